"""How the service reaches its broker: the URL and credential settings, and a real broker of
the test's own (Mosquitto, TLS with a CA made here, password required) that the subscriber
reaches with ``mqtts://``, ``GBT_MQTT_CA_FILE`` and a password, never logging it."""

import ipaddress
import json
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.core.db import create_db_engine
from app.ingest.mqtt import Broker, Topics, broker_of
from app.main import create_app
from app.models import Base
from tests.conftest import Fleet, half_hours, make_settings, stored_readings
from tests.live_server import free_port

USER, PASSWORD = "gbt-service", "s3cret/p@ss:word"  # characters a URL must percent-encode
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_url_gives_host_port_tls_and_credentials() -> None:
    plain = Broker.parse("mqtt://broker.example")
    assert (plain.host, plain.port, plain.tls, plain.username, plain.password) == (
        "broker.example",
        1883,
        False,
        None,
        None,
    )
    secure = Broker.parse("mqtts://gw:p%40ss%2Fw@broker.example")
    assert (secure.port, secure.tls, secure.username, secure.password) == (
        8883,
        True,
        "gw",
        "p@ss/w",
    )
    assert Broker.parse("mqtts://broker.example:9883").port == 9883
    # The settings' user and password take the URL's place; neither shows when printed.
    chosen = Broker.parse("mqtt://gw:urlpass@h", username="svc", password="setpass")
    assert (chosen.username, chosen.password) == ("svc", "setpass")
    assert "pass" not in f"{chosen} {chosen!r}"
    for bad in ("http://h", "mqtt://", "h:1883", "tcp://h:1883"):
        with pytest.raises(ValueError, match="mqtt://host"):
            Broker.parse(bad)


def test_broker_is_configured_by_the_settings(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/x.sqlite3", tmp_path)
    assert broker_of(settings) is None  # the embedded default: no MQTT
    settings = make_settings(
        f"sqlite:///{tmp_path}/x.sqlite3",
        tmp_path,
        mqtt_url="mqtts://h",
        mqtt_username=USER,
        mqtt_password=PASSWORD,
        mqtt_ca_file=tmp_path / "ca.pem",
    )
    assert isinstance(settings.mqtt_url, SecretStr) and PASSWORD not in repr(settings)
    assert broker_of(settings) == Broker("h", 8883, True, tmp_path / "ca.pem", USER, PASSWORD)


def test_topics_name_and_parse_a_meter() -> None:
    topics = Topics("site/a/v1")
    assert (topics.readings(7), topics.acks(7)) == (
        "site/a/v1/meters/7/readings",
        "site/a/v1/meters/7/acks",
    )
    assert topics.meter_in("site/a/v1/meters/7/readings", "readings") == "7"
    assert topics.meter_in("site/a/v1/meters/7/acks", "readings") is None
    assert topics.meter_in("gbt/v1/meters/7/readings", "readings") is None
    assert topics.meter_in("site/a/v1/meters/7/x/readings", "readings") is None


# A broker of the test's own, with TLS and passwords ------------------------------------------


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    signer: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
    return builder.sign(signer, hashes.SHA256())


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Mosquitto on a free port: TLS only (a CA made here), no anonymous clients. Yields the
    port and the CA file."""
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto and mosquitto_passwd are not installed: TLS broker test skipped")
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("gbt test CA", ca_key, None, ca_key)
    server = _certificate("localhost", server_key, ca, ca_key)
    ca_file = _pem(tmp_path / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    cert_file = _pem(tmp_path / "server.pem", server.public_bytes(serialization.Encoding.PEM))
    key_file = _pem(
        tmp_path / "server.key",
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), USER, PASSWORD], check=True)
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {ca_file}\ncertfile {cert_file}\nkeyfile {key_file}\n"
        f"allow_anonymous false\npassword_file {passwords}\n"
        "persistence false\nuser root\n"
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert broker.poll() is None, broker.stdout.read() if broker.stdout else ""
            assert time.monotonic() < deadline, "the test broker did not start"
            time.sleep(0.05)
        yield port, ca_file
    finally:
        broker.terminate()
        broker.wait(10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_subscriber_reaches_a_tls_broker_with_a_password(
    tls_broker: tuple[int, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.ingest.mqtt")
    port, ca_file = tls_broker
    url = f"sqlite:///{tmp_path}/test.sqlite3"
    engine = create_db_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    topics = Topics("tls/v1")
    settings = make_settings(
        url,
        tmp_path,
        mqtt_url=f"mqtts://localhost:{port}",
        mqtt_username=USER,
        mqtt_password=PASSWORD,
        mqtt_ca_file=ca_file,
        mqtt_topic_prefix=topics.prefix,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.mqtt.subscribed.wait(30), caplog.text
        fleet = Fleet(client)
        meter = fleet.meter()
        gateway = Broker.parse(
            f"mqtts://{USER}:s3cret%2Fp%40ss%3Aword@localhost:{port}", ca_file=ca_file
        ).client("test-gateway")
        acks: list[dict[str, object]] = []
        gateway.on_message = lambda c, u, message: acks.append(json.loads(message.payload))
        gateway.connect("localhost", port)
        gateway.loop_start()
        try:
            gateway.subscribe(topics.acks(meter), qos=1)
            time.sleep(0.5)
            readings = half_hours(T0, 4)
            gateway.publish(
                topics.readings(meter), json.dumps(fleet.batch(meter, 1, readings)), qos=1
            )
            deadline = time.monotonic() + 30
            while not acks and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            gateway.disconnect()
            gateway.loop_stop()
        assert [(a["status"], a["result"]["accepted"]) for a in acks] == [(200, 4)]  # type: ignore[index]
        assert len(stored_readings(client, meter)) == 4
    assert PASSWORD not in caplog.text and "p%40ss" not in caplog.text
    assert f"mqtts://localhost:{port}" in caplog.text


def test_a_wrong_password_is_refused_and_not_logged(
    tls_broker: tuple[int, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.ingest.mqtt")
    port, ca_file = tls_broker
    url = f"sqlite:///{tmp_path}/test.sqlite3"
    engine = create_db_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    wrong = "not-the-password"
    settings = make_settings(
        url,
        tmp_path,
        mqtt_url=f"mqtts://{USER}:{wrong}@localhost:{port}",
        mqtt_ca_file=ca_file,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert not app.state.mqtt.subscribed.wait(3)
    assert "refused the connection" in caplog.text
    assert wrong not in caplog.text
