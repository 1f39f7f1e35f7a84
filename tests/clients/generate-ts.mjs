// openapi-typescript over every service's OpenAPI document, in one process: node generate-ts.mjs <in.json> <out.ts> ...
// Any warning or error the generator (or its Redocly validation) reports fails the run (exit 1).
import { readFile, writeFile } from "node:fs/promises";
import openapiTS, { astToString } from "openapi-typescript";

const reported = [];
for (const level of ["warn", "error"]) {
  const original = console[level];
  console[level] = (...args) => {
    reported.push(`${level}: ${args.join(" ")}`);
    original(...args);
  };
}
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const schema = JSON.parse(await readFile(args[i], "utf8"));
  // defaultNonNullable: false — a property with a default stays optional: request bodies may omit it (FastAPI
  // writes one schema for a model that goes in and comes out)
  const ast = await openapiTS(schema, { defaultNonNullable: false });
  await writeFile(args[i + 1], astToString(ast));
}
if (reported.length) {
  console.log(JSON.stringify({ warnings: reported }));
  process.exit(1);
}
