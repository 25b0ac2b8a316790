import { candidateDocument } from "./src/requests/replay-schema.ts";
const tries: Record<string,string> = {
  keys: Array.from({length: 9900}, (_, i) => `k${i}: v`).join("\n"),
  flowseq: "[" + Array.from({length: 14900}, (_, i) => `${i}`).join(",") + "]",
  seqs: Array.from({length: 14900}, (_, i) => `- v`).join("\n"),
  aliases: "a: &a x\nb: [" + Array(14000).fill("*a").join(",") + "]",
  anchors: Array.from({length: 7400}, (_, i) => `k${i}: &a${i} v`).join("\n"),
};
for (const [k, v] of Object.entries(tries)) {
  const t = Date.now();
  try { const d = candidateDocument(v); console.log(k, v.length, "OK", Date.now()-t, "ms"); }
  catch (e: any) { console.log(k, v.length, e?.constructor?.name, e?.code, String(e?.message).slice(0, 90).replace(/\n/g," "), Date.now()-t, "ms"); }
}
