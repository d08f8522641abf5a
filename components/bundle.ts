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

/** CloudFormation's inline ZipFile limit, in characters. */
export const INLINE_CODE_LIMIT = 4096;

/**
 * The custom-resource handler as inline template code: minified, using the SDK the Node.js runtime ships (an
 * inline function cannot carry its own), and failing loudly if it outgrows CloudFormation's limit.
 */
export function inlineHandlerCode(): string {
    const out = buildSync({
        entryPoints: [join(ROOT, "functions", "empty-repository-cfn", "index.ts")],
        bundle: true,
        write: false,
        platform: "node",
        target: "node22",
        format: "cjs",
        minify: true,
        charset: "utf8",
        legalComments: "none",
        external: ["@aws-sdk/*"],
        logLevel: "warning",
    });
    const code = out.outputFiles[0].text.trim();
    if (code.length >= INLINE_CODE_LIMIT) {
        throw new Error(
            `inline custom-resource code is ${code.length} characters; CloudFormation accepts fewer than ${INLINE_CODE_LIMIT}`,
        );
    }
    return code;
}

export function functionArchive(name: string): pulumi.asset.AssetArchive {
    return new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.FileAsset(bundleFunction(name)) });
}
