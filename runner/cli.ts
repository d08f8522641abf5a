// `npm run cleanup`: runs the cleanup state machine locally against the AWS endpoint the environment selects.
import { parseArgs } from "node:util";
import { EC2Client } from "@aws-sdk/client-ec2";
import { DEFAULT_MAX_CONCURRENCY } from "../components/definition";
import { ec2ClientConfig } from "../functions/core/clients";
import { DEFAULT_CALLS_IN_FLIGHT, parseGuardrails } from "../functions/core/handlers";
import { DEFAULT_KEEP_TAG_KEY } from "../functions/core/images";
import { silentLog, stderrLog } from "../functions/core/log";
import { validHours as parseValidHours, wholeNumber } from "../functions/core/validate";
import { renderSummary } from "./report";
import { runCleanup } from "./run";

const USAGE = `usage: npm run cleanup -- --valid-hours <H> [--dry-run] [--json] [--max-concurrency <1-40>] [--verbose]
         [--calls-per-batch <1-20>] [--keep-tag <KEY>] [--keep-latest <N>] [--group-by-tag <KEY>]
         [--no-protect-in-use]

Deregisters the account's AMIs strictly older than H hours and deletes their EBS snapshots, by running the
deployed state machine's definition in this process. AWS_REGION, the credential chain and AWS_ENDPOINT_URL
select the account or a local emulator. Try --dry-run first: it sends every call with EC2's DryRun flag.`;

export class UsageError extends Error {}

export interface CliOptions {
    validHours: number;
    dryRun: boolean;
    json: boolean;
    verbose: boolean;
    maxConcurrency: number;
    callsPerBatch: number;
    keepTagKey: string;
    keepLatest: number;
    groupByTag?: string;
    protectInUse: boolean;
}

const OPTIONS = {
    "valid-hours": { type: "string" },
    "dry-run": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    "max-concurrency": { type: "string", default: String(DEFAULT_MAX_CONCURRENCY) },
    "calls-per-batch": { type: "string", default: String(DEFAULT_CALLS_IN_FLIGHT) },
    "keep-tag": { type: "string", default: DEFAULT_KEEP_TAG_KEY },
    "keep-latest": { type: "string", default: "0" },
    "group-by-tag": { type: "string" },
    "no-protect-in-use": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
} as const;

/** Every flag error, from parseArgs or from a value check, becomes a UsageError (exit code 2). */
export function parseCli(argv: string[]): CliOptions {
    try {
        const v = parseArgs({ args: argv, strict: true, allowPositionals: false, options: OPTIONS }).values;
        if (v.help) throw new UsageError("");
        if (v["valid-hours"] === undefined) throw new UsageError("--valid-hours is required");
        return {
            validHours: parseValidHours(v["valid-hours"], "--valid-hours"),
            maxConcurrency: wholeNumber("--max-concurrency", v["max-concurrency"], 1, 40),
            callsPerBatch: wholeNumber("--calls-per-batch", v["calls-per-batch"], 1, 20),
            dryRun: v["dry-run"],
            json: v.json,
            verbose: v.verbose,
            // The same checks the list Lambda applies to its event, under the flags' names.
            ...guardrailFlags(v),
        };
    } catch (err) {
        throw err instanceof UsageError ? err : new UsageError((err as Error).message);
    }
}

const FLAG_NAMES = {
    keepTagKey: "--keep-tag",
    keepLatest: "--keep-latest",
    groupByTag: "--group-by-tag",
    protectInUse: "--no-protect-in-use",
};

function guardrailFlags(v: Record<string, string | boolean | undefined>) {
    return parseGuardrails(
        {
            keepTagKey: v["keep-tag"],
            keepLatest: v["keep-latest"],
            groupByTag: v["group-by-tag"],
            protectInUse: !v["no-protect-in-use"],
        },
        FLAG_NAMES,
    );
}

export async function main(argv: string[]): Promise<number> {
    let opts: CliOptions;
    try {
        opts = parseCli(argv);
    } catch (err) {
        const message = (err as Error).message;
        process.stderr.write(`${message ? `error: ${message}\n\n` : ""}${USAGE}\n`);
        return message ? 2 : 0;
    }
    const ec2 = new EC2Client(ec2ClientConfig);
    try {
        await ec2.config.region();
    } catch {
        process.stderr.write("error: no AWS region: set AWS_REGION (or a profile with a region)\n");
        return 2;
    }
    const summary = await runCleanup({
        ec2,
        validHours: opts.validHours,
        dryRun: opts.dryRun,
        maxConcurrency: opts.maxConcurrency,
        callsPerBatch: opts.callsPerBatch,
        keepTagKey: opts.keepTagKey,
        keepLatest: opts.keepLatest,
        groupByTag: opts.groupByTag,
        protectInUse: opts.protectInUse,
        log: opts.json || opts.verbose ? stderrLog : silentLog,
        onProgress: opts.json
            ? undefined
            : (done, total) => process.stderr.write(`\r${done}/${total} AMIs done`),
    });
    if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
        if (summary.expired.length > 0) process.stderr.write("\n");
        process.stdout.write(renderSummary(summary));
    }
    return summary.failed.length > 0 ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.stderr.write(`error: ${(err as Error).message}\n`);
            process.exitCode = 1;
        },
    );
}
