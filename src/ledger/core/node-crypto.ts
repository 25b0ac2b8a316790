/**
 * The vault's side of crypto.ts: installs node:crypto, imported statically, as the ledger core's
 * implementation. Imported by ledger-event.ts (which the vault's ledger writer uses and which needs
 * node:crypto anyway), so the sequencer hashes natively on every Node version the engines field
 * allows, with or without process.getBuiltinModule. The SDK never reaches this file
 * (test/architecture/layers.test.ts).
 */
import * as nodeCrypto from "node:crypto";
import { installLedgerCrypto, nodeLedgerCrypto, type NodeCryptoSubset } from "./crypto.js";

const impl = nodeLedgerCrypto(nodeCrypto as unknown as NodeCryptoSubset);
if (impl) installLedgerCrypto(impl);
