// The on-chain check of a holding: the token's holderImpactAt(account, checkpoint) called with
// eth_call at the statement's block, on the viewer's JSON-RPC endpoint, and each figure the
// service stated compared with what the contract returns (docs/bond-token.md).

import { rpc } from "./verify.js";
import { selector } from "./siwe.js";

const word = (value) => BigInt(value).toString(16).padStart(64, "0");

function signed(hexWord) {
  const v = BigInt(`0x${hexWord}`);
  return v >= 1n << 255n ? v - (1n << 256n) : v;
}

/** holderImpactAt(account, number) at `block`: {checkpointNumber, holding, supply, reductionWh,
 * co2AvoidedG} as BigInts. */
export async function holderImpactAt(url, token, account, number, block) {
  const data = selector("holderImpactAt(address,uint256)") + word(account) + word(number);
  const answer = await rpc(url, "eth_call", [{ to: token, data }, `0x${block.toString(16)}`]);
  const words = answer.slice(2).match(/.{64}/g) || [];
  if (words.length < 5) throw new Error(`eth_call returned ${(answer.length - 2) / 2} bytes`);
  return {
    checkpointNumber: BigInt(`0x${words[0]}`),
    holding: BigInt(`0x${words[1]}`),
    supply: BigInt(`0x${words[2]}`),
    reductionWh: signed(words[3]),
    co2AvoidedG: signed(words[4]),
  };
}

/** [{id, ok, stated, onChain}] for the chain id and each figure of one holding. */
export async function checkHolding(holding, account, rpcUrl) {
  const checks = [];
  const chainId = BigInt(await rpc(rpcUrl, "eth_chainId", []));
  checks.push({ id: "hc_chain_id", ok: chainId === BigInt(holding.chain_id), stated: holding.chain_id, onChain: chainId });
  const impact = holding.impact;
  const got = await holderImpactAt(rpcUrl, holding.token_address, account, impact.checkpoint_number, holding.block_number);
  const pairs = [
    ["hc_checkpoint", impact.checkpoint_number, got.checkpointNumber],
    ["hc_holding", holding.holding_units, got.holding],
    ["hc_supply", holding.total_supply_units, got.supply],
    ["hc_reduction", impact.reduction_wh, got.reductionWh],
    ["hc_co2", impact.co2_avoided_g, got.co2AvoidedG],
  ];
  for (const [id, stated, onChain] of pairs) checks.push({ id, ok: BigInt(stated) === onChain, stated, onChain });
  return checks;
}
