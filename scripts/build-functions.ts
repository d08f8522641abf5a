// `npm run build`: bundles every Lambda entry with esbuild (the same bundler call `pulumi up` makes) and prints sizes.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { bundleFunction } from "../components/bundle";

const functionsDir = join(__dirname, "..", "functions");
for (const name of readdirSync(functionsDir)) {
    if (name === "core" || !statSync(join(functionsDir, name)).isDirectory()) continue;
    const out = bundleFunction(name);
    process.stdout.write(`${name}: ${(statSync(out).size / 1024).toFixed(0)} KiB -> ${out}\n`);
}
