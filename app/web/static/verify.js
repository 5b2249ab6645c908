// Checks a proof bundle (docs/audit-bundle.md) in the browser, trusting neither the page's
// server nor the bundle: the leaf hash and the RFC 9162 audit path with SHA-256 (Web Crypto),
// then the root and tree size the registry contract holds, read with a JSON-RPC eth_call.

// First 4 bytes of keccak256("getCheckpoint(uint256)"); tests/test_dashboard.py checks it.
export const GET_CHECKPOINT_SELECTOR = "0x20fc4881";

export function hexToBytes(hex) {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (clean.length % 2 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not hex: ${hex.slice(0, 20)}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(...parts) {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

export const leafHash = (leaf) => sha256(Uint8Array.of(0), leaf);
export const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

/** RFC 9162 section 2.1.3.2: the root the audit path leads to, or null if it cannot. */
export async function rootFromInclusionProof(hash, index, size, proof) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn || fn < 0n || hash.length !== 32) return null;
  let r = hash;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0n) return null;
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

export async function rpc(url, method, params) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  if (!response.ok) throw new Error(`${method}: HTTP ${response.status}`);
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** Checkpoint `number` as the contract holds it: {treeSize, rootHex}. */
export async function chainCheckpoint(url, contract, number) {
  const arg = BigInt(number).toString(16).padStart(64, "0");
  const data = await rpc(url, "eth_call", [
    { to: contract, data: GET_CHECKPOINT_SELECTOR + arg },
    "latest",
  ]);
  const words = data.slice(2);
  if (words.length < 64 * 6) throw new Error(`eth_call returned ${words.length / 2} bytes`);
  return { treeSize: BigInt(`0x${words.slice(0, 64)}`), rootHex: words.slice(64, 128) };
}

/**
 * Runs every check (a failed one does not hide the others) and returns
 * {ok, checks: [{id, ok, detail}], leaf}; `ok` is null for a check that could not run.
 * `format` is the bundle format the service's configuration names (/dashboard/config.json).
 */
export async function verifyBundle(bundle, { kind, refId, rpcUrl, format }) {
  const checks = [];
  const add = (id, ok, detail = {}) => checks.push({ id, ok, detail });
  let leaf = null;
  try {
    add("check_format", Boolean(format) && bundle.format === format, { text: String(bundle.format) });
    const leafBytes = hexToBytes(bundle.leaf.leaf_hex);
    try {
      leaf = JSON.parse(new TextDecoder().decode(leafBytes));
    } catch {
      leaf = null;
    }
    const idKey = `${kind}_id`;
    add(
      "check_leaf",
      leaf !== null && leaf.type === kind && String(leaf[idKey]) === String(refId),
      { text: leaf ? `${leaf.type} ${leaf[idKey]}` : "not JSON" },
    );
    const hash = await leafHash(leafBytes);
    add("check_leaf_hash", bytesToHex(hash) === bundle.leaf.leaf_hash_hex, { text: bytesToHex(hash) });
    const cp = bundle.checkpoint;
    const proof = bundle.inclusion_proof_hex.map(hexToBytes);
    const root = await rootFromInclusionProof(hash, bundle.leaf.leaf_index, cp.tree_size, proof);
    add("check_inclusion", root !== null && bytesToHex(root) === cp.root_hex, {
      key: "computed_root",
      params: { root: root ? bytesToHex(root) : "-", expected: cp.root_hex },
      index: bundle.leaf.leaf_index,
      size: cp.tree_size,
    });
    if (!rpcUrl) {
      add("check_chain_id", null, { key: "no_rpc" });
      add("check_chain", null, { key: "no_rpc" });
    } else {
      try {
        const chainId = BigInt(await rpc(rpcUrl, "eth_chainId", []));
        add("check_chain_id", chainId === BigInt(cp.chain_id), { text: `${chainId} (${cp.chain_id})` });
        const onChain = await chainCheckpoint(rpcUrl, cp.contract_address, cp.number);
        add(
          "check_chain",
          onChain.treeSize === BigInt(cp.tree_size) && onChain.rootHex === cp.root_hex,
          {
            key: "chain_holds",
            params: { address: cp.contract_address, size: onChain.treeSize, root: onChain.rootHex },
          },
        );
      } catch (e) {
        add("check_chain", false, { text: String(e.message || e) });
      }
    }
  } catch (e) {
    add("check_format", false, { text: String(e.message || e) });
  }
  const ok = checks.every((c) => c.ok === true);
  return { ok, checks, leaf };
}
