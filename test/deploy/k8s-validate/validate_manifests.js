// Validates Kubernetes manifests against the upstream OpenAPI schema with the npm package
// kubernetes-models (types, required fields, enums, formats such as quantities and int32).
//   node validate_manifests.js PATH...   (files: .yaml/.yml/.json, multi-document YAML
//                                         allowed; directories: every such file inside)
// Exits 1 naming the file, document and field of every problem; prints one line per object.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

// "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1
function modelFor(apiVersion, kind) {
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    throw new Error(`unknown apiVersion ${apiVersion}`);
  }
  if (!mod[kind]) throw new Error(`unknown kind ${kind} in ${apiVersion}`);
  return mod[kind];
}

function files(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p).sort().flatMap((f) => files(path.join(p, f)))
      .filter((f) => /\.(ya?ml|json)$/.test(f));
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: validate_manifests.js PATH...");
  process.exit(2);
}
let problems = 0;
let objects = 0;
for (const file of args.flatMap(files)) {
  const text = fs.readFileSync(file, "utf8");
  let docs;
  try {
    docs = file.endsWith(".json") ? [JSON.parse(text)] : yaml.loadAll(text);
  } catch (e) {
    console.error(`${file}: cannot parse: ${e.message}`);
    problems++;
    continue;
  }
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;  // empty document between "---"
    const where = `${file}#${i} ${doc.kind || "?"}/${(doc.metadata || {}).name || "?"}`;
    try {
      if (!doc.apiVersion || !doc.kind) throw new Error("apiVersion and kind are required");
      if (!doc.metadata || !doc.metadata.name) throw new Error("metadata.name is required");
      const Model = modelFor(doc.apiVersion, doc.kind);
      new Model(doc).validate();
      objects++;
      console.log(`ok ${where}`);
    } catch (e) {
      console.error(`FAIL ${where}: ${e.message}`);
      problems++;
    }
  });
}
if (objects === 0 && problems === 0) {
  console.error("no manifests found");
  process.exit(1);
}
console.log(`${objects} objects valid, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
