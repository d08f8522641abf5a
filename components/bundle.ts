// Bundles a Lambda entry from functions/ with esbuild into dist/functions/<name>/index.js, once per process.
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { buildSync } from "esbuild";

const ROOT = join(__dirname, "..");
const built = new Map<string, string>();

/** The AWS SDK is bundled, not taken from the runtime: the runtime's SDK version varies by region. */
export function bundleFunction(name: string): string {
    const cached = built.get(name);
    if (cached) return cached;
    const outfile = join(ROOT, "dist", "functions", name, "index.js");
    buildSync({
        entryPoints: [join(ROOT, "functions", name, "index.ts")],
        outfile,
        bundle: true,
        platform: "node",
        target: "node22",
        format: "cjs",
        minify: true,
        legalComments: "none",
        logLevel: "warning",
    });
    built.set(name, outfile);
    return outfile;
}

export function functionArchive(name: string): pulumi.asset.AssetArchive {
    return new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.FileAsset(bundleFunction(name)) });
}
