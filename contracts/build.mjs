#!/usr/bin/env node
// Compiles each contract below with the pinned solc (npm "solc", its JS API, standard JSON input)
// and writes artifacts/<Name>.json. Usage: node build.mjs [--out DIR]
//
// Each contract is compiled on its own (its source as the only input, imports read through
// findImports), so adding a contract never changes another one's artifact. The settings are fixed
// here, so a fresh build equals the checked-in artifacts byte for byte (tests/test_contract.py
// checks it). evmVersion is "berlin": the production chain, ibet for Fin
// (GoQuorum, QBFT), runs the Berlin rules (its genesis activates berlinBlock and no later fork),
// so the bytecode must not use BASEFEE (London), PUSH0 (Shanghai), or MCOPY and transient
// storage (Cancun); solc 0.8.28 would target Cancun by default.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
let solc;
try {
  solc = require("solc");
} catch {
  process.stderr.write("solc is not installed: run `make contracts` (npm ci in contracts/)\n");
  process.exit(1);
}
const pkg = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8"));

const CONTRACTS = ["ImpactRegistry", "PersonalInfo", "GreenBondToken", "HoldingsReader", "CarbonCredit"];
const SETTINGS = {
  evmVersion: "berlin",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function parseArgs(argv) {
  let out = join(HERE, "artifacts");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && i + 1 < argv.length) out = resolve(argv[++i]);
    else throw new Error(`usage: node build.mjs [--out DIR] (got ${argv[i]})`);
  }
  return out;
}

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");

function findImports(path) {
  // Only this folder's own sources ("./Name.sol") and the pinned OpenZeppelin package (read from
  // node_modules) may be imported.
  if (/^[A-Za-z0-9]+\.sol$/.test(path)) {
    try {
      return { contents: readFileSync(join(HERE, path), "utf8") };
    } catch (e) {
      return { error: `${path}: ${e.message}` };
    }
  }
  if (!path.startsWith("@openzeppelin/contracts/")) return { error: `import not allowed: ${path}` };
  try {
    return { contents: readFileSync(join(HERE, "node_modules", path), "utf8") };
  } catch (e) {
    return { error: `${path}: ${e.message} (run: npm ci --prefix contracts)` };
  }
}

function build(name, version, outDir) {
  const source = `${name}.sol`;
  const text = readFileSync(join(HERE, source), "utf8");
  const input = { language: "Solidity", sources: { [source]: { content: text } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  const diagnostics = output.errors ?? [];
  for (const d of diagnostics) process.stderr.write(`${d.formattedMessage ?? d.message}\n`);
  if (diagnostics.some((d) => d.severity === "error")) process.exit(1);

  const contract = output.contracts[source][name];
  const sources = Object.fromEntries(
    Object.keys(output.sources)
      .sort()
      .map((path) => [path, sha256(path === source ? text : findImports(path).contents)]),
  );
  const artifact = {
    contractName: name,
    sourceName: source,
    sourceHash: `sha256:${sha256(text)}`,
    sources,
    compiler: { name: "solc", version },
    openzeppelinContracts: pkg.devDependencies["@openzeppelin/contracts"],
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
  const target = join(outDir, `${name}.json`);
  writeFileSync(target, `${JSON.stringify(artifact, null, 2)}\n`);
  process.stdout.write(`wrote ${target} (solc ${version}, evmVersion ${SETTINGS.evmVersion})\n`);
}

function main() {
  const outDir = parseArgs(process.argv.slice(2));
  const wanted = pkg.devDependencies.solc;
  const version = solc.version();
  if (!version.startsWith(`${wanted}+`)) {
    throw new Error(`solc ${version} is installed, package.json pins ${wanted}: run npm ci`);
  }
  mkdirSync(outDir, { recursive: true });
  for (const name of CONTRACTS) build(name, version, outDir);
}

main();
