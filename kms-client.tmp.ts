import { KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { Agent } from "node:http";
const client = new KMSClient({ region: "us-east-1", endpoint: "http://127.0.0.1:45991", credentials: { accessKeyId: "a", secretAccessKey: "b" }, requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) } });
const msg = Buffer.alloc(100, 1);
let n = 0;
for (let i = 0; i < 200; i++) await client.send(new SignCommand({ KeyId: "k", Message: msg, MessageType: "RAW", SigningAlgorithm: "ED25519_SHA_512" }));
const end = Date.now() + 5000;
const cpu0 = process.cpuUsage();
async function worker() { while (Date.now() < end) { await client.send(new SignCommand({ KeyId: "k", Message: msg, MessageType: "RAW", SigningAlgorithm: "ED25519_SHA_512" })); n++; } }
await Promise.all(Array.from({ length: 64 }, worker));
const cpu = process.cpuUsage(cpu0);
console.log(`${(n / 5).toFixed(0)} signs/s, client cpu ${((cpu.user + cpu.system) / 5e6).toFixed(2)} cores, ${((cpu.user + cpu.system) / n).toFixed(0)} us/call (client only)`);
client.destroy();
