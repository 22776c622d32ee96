// Prints the JavaScript a first visit downloads (the entry and its static imports; then the overview page a
// signed-in admin lands on), gzipped, and every chunk; fails the build above the budget. The numbers go into
// docs/performance.md.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const dist = new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const gzipKb = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length / 1024;
const rawKb = (file) => readFileSync(join(dist, file)).length / 1024;

const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
function closure(chunk, into = new Set()) {
  if (into.has(chunk.file)) return into;
  into.add(chunk.file);
  for (const name of chunk.imports ?? []) closure(manifest[name], into);
  return into;
}
// What the sign-in page fetches, and what a signed-in admin landing on the overview (charts and all) fetches.
const signIn = closure(entry);
const overviewChunk = manifest["src/pages/Overview.tsx"];
const landing = overviewChunk ? closure(overviewChunk, new Set(signIn)) : signIn;

const rows = [...new Set(Object.values(manifest).map((chunk) => chunk.file))]
  .filter((file) => file.endsWith(".js"))
  .map((file) => ({ file, raw: rawKb(file), gzip: gzipKb(file) }))
  .sort((a, b) => b.gzip - a.gzip);
const sizeOf = (files) => rows.filter((row) => files.has(row.file)).reduce((sum, row) => sum + row.gzip, 0);
const all = rows.reduce((sum, row) => sum + row.gzip, 0);

const first = sizeOf(signIn);
const overview = sizeOf(landing);
if (process.argv.includes("--json")) {
  // For `make bench`, which writes these numbers into docs/performance.md.
  console.log(JSON.stringify({ budgetKb: BUDGET_KB, firstLoadKb: first, overviewKb: overview, allKb: all,
    chunks: rows.map((row) => ({ ...row, firstLoad: signIn.has(row.file), overview: landing.has(row.file) })) }));
  process.exit(first > BUDGET_KB || overview > BUDGET_KB ? 1 : 0);
}

console.log("\nJavaScript bundle (gzip -9):");
for (const row of rows) {
  const when = signIn.has(row.file) ? "first load" : landing.has(row.file) ? "overview  " : "on demand ";
  console.log(`  ${when}  ${row.gzip.toFixed(1).padStart(7)} KB gz  ${row.raw.toFixed(1).padStart(7)} KB  ${row.file}`);
}
console.log(`First load (sign-in page): ${first.toFixed(1)} KB gz of JavaScript; signed in on the overview: ${overview.toFixed(1)} KB gz (budget ${BUDGET_KB} KB each); every chunk: ${all.toFixed(1)} KB gz`);
if (Math.max(first, overview) > BUDGET_KB) {
  console.error(`Over the ${BUDGET_KB} KB budget: sign-in ${first.toFixed(1)} KB, overview ${overview.toFixed(1)} KB`);
  process.exit(1);
}
