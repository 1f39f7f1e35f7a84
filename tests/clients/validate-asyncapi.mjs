// Validates AsyncAPI documents with the official parser: node validate-asyncapi.mjs docs/asyncapi.json [more.json ...]
// Prints one JSON line per document: {file, parsed, diagnostics: [{severity: 0 error, 1 warning, 2 info, 3 hint, ...}]};
// exits 1 when a document does not parse or has an error.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"));
  const out = diagnostics.map((d) => ({
    severity: d.severity,
    code: String(d.code),
    message: d.message,
    path: d.path.join("/"),
  }));
  failed ||= document === undefined || out.some((d) => d.severity === 0);
  console.log(JSON.stringify({ file, parsed: document !== undefined, diagnostics: out }));
}
process.exit(failed ? 1 : 0);
