// Sign-In with Ethereum in the browser: an account from a pasted private key, the EIP-4361
// message, and its EIP-191 (personal_sign) signature, with secp256k1 and keccak-256 from
// @noble/curves and @noble/hashes (served from node_modules; index.html's import map names
// them). The key never leaves this page: only the message and the signature are sent.

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "./verify.js";

const utf8 = (text) => new TextEncoder().encode(text);

/** EIP-55: the address with the letters whose keccak nibble is 8 or more in upper case. */
export function checksumAddress(lowerHex) {
  const hash = bytesToHex(keccak_256(utf8(lowerHex)));
  let out = "0x";
  for (let i = 0; i < 40; i++) out += parseInt(hash[i], 16) >= 8 ? lowerHex[i].toUpperCase() : lowerHex[i];
  return out;
}

/** {address, secretKey} of a 32-byte hex private key (with or without 0x); throws if invalid. */
export function accountFromKey(text) {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("a private key is 32 bytes: 64 hex digits");
  const secretKey = hexToBytes(hex);
  if (!secp256k1.utils.isValidSecretKey(secretKey)) throw new Error("not a valid secp256k1 key");
  const publicKey = secp256k1.getPublicKey(secretKey, false); // 0x04 || x || y
  const address = bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12));
  return { address: checksumAddress(address), secretKey };
}

/** The EIP-4361 message, line by line as the specification's ABNF has it (no final LF). */
export function siweMessage({ domain, address, statement, uri, chainId, nonce, issuedAt, expirationTime }) {
  return [
    `${domain} wants you to sign in with your Ethereum account:`,
    address,
    "",
    statement,
    "",
    `URI: ${uri}`,
    "Version: 1",
    `Chain ID: ${chainId}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt}`,
    `Expiration Time: ${expirationTime}`,
  ].join("\n");
}

/** personal_sign: keccak-256 of "\x19Ethereum Signed Message:\n" + length + message, signed;
 * returned as 0x r || s || v with v = 27 + recovery id. */
export function personalSign(message, secretKey) {
  const body = utf8(message);
  const prefix = utf8(`\x19Ethereum Signed Message:\n${body.length}`);
  const data = new Uint8Array(prefix.length + body.length);
  data.set(prefix);
  data.set(body, prefix.length);
  const recovered = secp256k1.sign(keccak_256(data), secretKey, { prehash: false, format: "recovered" });
  const v = (27 + recovered[0]).toString(16);
  return `0x${bytesToHex(recovered.subarray(1))}${v}`;
}

/** The 4-byte selector of a function signature ("holderImpactAt(address,uint256)"). */
export function selector(signature) {
  return `0x${bytesToHex(keccak_256(utf8(signature)).subarray(0, 4))}`;
}
