// Validates an AsyncAPI document with the official parser: node validate-asyncapi.mjs docs/asyncapi.json
// Prints the diagnostics as JSON ({severity: 0 error, 1 warning, 2 info, 3 hint}); exit 1 when one is an error.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const text = await readFile(process.argv[2], "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const out = diagnostics.map((d) => ({
  severity: d.severity,
  code: String(d.code),
  message: d.message,
  path: d.path.join("/"),
}));
console.log(JSON.stringify({ parsed: document !== undefined, diagnostics: out }));
process.exit(document === undefined || out.some((d) => d.severity === 0) ? 1 : 0);
