// What `npm run cleanup` and `npm run restore` share: exit codes, flag parsing, the region, and errors that say
// which region and endpoint they came from.
import { parseArgs } from "node:util";
import type { EC2Client } from "@aws-sdk/client-ec2";
import {
    classify,
    ErrorNames,
    errorMessage,
    errorName,
    invalidInput,
    isOurs,
    janitorError,
} from "../functions/core/shared/errors";

/** What the process's exit code means. */
export const ExitCodes = {
    done: 0,
    /** Some AMIs failed; the others were done. */
    someFailed: 1,
    badFlags: 2,
    unreachable: 3,
    noCredentials: 4,
    accessDenied: 5,
    /** A deployed cleanup of this region is running (or that could not be checked): give --force to run anyway. */
    deployedRunInProgress: 6,
} as const;

export const EXIT_BY_ERROR: Record<string, number> = {
    [ErrorNames.unreachable]: ExitCodes.unreachable,
    [ErrorNames.noCredentials]: ExitCodes.noCredentials,
    [ErrorNames.accessDenied]: ExitCodes.accessDenied,
    [ErrorNames.deployedRunInProgress]: ExitCodes.deployedRunInProgress,
};

export function nonEmpty(profile: string): string {
    if (profile.trim() === "") throw invalidInput("--profile", profile, "a profile name from ~/.aws/config");
    return profile;
}

export const endpointOf = (region: string) =>
    process.env.AWS_ENDPOINT_URL_EC2 ?? process.env.AWS_ENDPOINT_URL ?? `https://ec2.${region}.amazonaws.com`;

const WHAT_WENT_WRONG: Record<string, string> = {
    [ErrorNames.unreachable]: "cannot reach EC2",
    [ErrorNames.noCredentials]: "no usable AWS credentials for EC2",
    [ErrorNames.accessDenied]: "access denied by EC2",
};

/** The error that stopped a run, named by class, with the region and endpoint it was talking to. */
export function runError(err: unknown, region: string): Error {
    const cause = (err as { cause?: unknown }).cause ?? err;
    const name = isOurs(cause) ? errorName(cause) : classify(cause);
    const what = WHAT_WENT_WRONG[name] ?? "the run failed";
    return janitorError(
        name as never,
        `${what} in ${region} at ${endpointOf(region)}: ${errorName(cause)}: ${errorMessage(cause)}`,
    );
}

export const errorDoc = (e: Error) => ({ error: { name: e.name, message: e.message } });

export type FlagSpec = { type: "string" | "boolean"; multiple?: boolean };

/**
 * Strict flag parsing: an unknown flag, a missing value, or a flag given twice that cannot be repeated is an
 * invalid-input error (exit code 2). `given` counts how often each flag was typed.
 */
export function parseFlags(argv: string[], options: Record<string, FlagSpec>) {
    const parse = () =>
        parseArgs({ args: argv, strict: true, allowPositionals: false, options, tokens: true });
    let parsed: ReturnType<typeof parse>;
    try {
        parsed = parse();
    } catch (err) {
        throw janitorError(ErrorNames.invalidInput, errorMessage(err));
    }
    const given = new Map<string, number>();
    for (const t of parsed.tokens) if (t.kind === "option") given.set(t.name, (given.get(t.name) ?? 0) + 1);
    for (const [name, count] of given) {
        if (count > 1 && !options[name].multiple) {
            throw janitorError(ErrorNames.invalidInput, `--${name} is given ${count} times; give it once`);
        }
    }
    return { values: parsed.values, given };
}

/** The region a client resolved from its flags, the environment or its profile; a clear error when none. */
export async function regionOf(ec2: EC2Client): Promise<string> {
    try {
        return await ec2.config.region();
    } catch (err) {
        throw janitorError(
            ErrorNames.invalidInput,
            `no usable AWS region (${errorMessage(err)}): give --region, or set AWS_REGION (or a profile with a region)`,
        );
    }
}

/** One region's outcome: what the command produced, or the error that stopped it there. */
export type RegionOutcome<R> = { region: string; result: R } | { region: string; error: Error };

export interface Command<O extends { help: boolean; json: boolean; regions: string[] }, R> {
    usage: () => string;
    parse: (argv: string[]) => O;
    runRegion: (region: string | undefined, opts: O) => Promise<RegionOutcome<R>>;
    /** The region's part of the JSON document (besides `region`). */
    docOf: (result: R, opts: O) => object;
    render: (result: R, opts: O) => string;
    exitOf: (result: R) => number;
}

/**
 * Runs a command in each region it selects (or the environment's one): one JSON document with --json (keyed by
 * region when there are several), a table per region otherwise, errors on stderr, and the worst exit code.
 */
export async function runCommand<O extends { help: boolean; json: boolean; regions: string[] }, R>(
    argv: string[],
    cmd: Command<O, R>,
): Promise<number> {
    let opts: O;
    try {
        opts = cmd.parse(argv);
    } catch (err) {
        process.stderr.write(`error: ${errorMessage(err)}\n\n${cmd.usage()}\n`);
        return ExitCodes.badFlags;
    }
    if (opts.help) {
        process.stdout.write(`${cmd.usage()}\n`);
        return ExitCodes.done;
    }
    const runs: RegionOutcome<R>[] = [];
    try {
        for (const region of opts.regions.length > 0 ? opts.regions : [undefined])
            runs.push(await cmd.runRegion(region, opts));
    } catch (err) {
        process.stderr.write(`error: ${errorMessage(err)}\n`);
        return ExitCodes.badFlags;
    }
    const docOf = (run: RegionOutcome<R>) =>
        "error" in run
            ? { region: run.region, ...errorDoc(run.error) }
            : { region: run.region, ...cmd.docOf(run.result, opts) };
    if (opts.json) {
        const doc =
            runs.length === 1
                ? docOf(runs[0])
                : { regions: Object.fromEntries(runs.map((r) => [r.region, docOf(r)])) };
        process.stdout.write(`${JSON.stringify(doc)}\n`);
    }
    for (const run of runs) {
        if ("error" in run) process.stderr.write(`error: ${run.error.message}\n`);
        else if (!opts.json)
            process.stdout.write(
                `${runs.length > 1 ? `${run.region}:\n` : ""}${cmd.render(run.result, opts)}`,
            );
    }
    return Math.max(
        ...runs.map((run) =>
            "error" in run ? (EXIT_BY_ERROR[run.error.name] ?? ExitCodes.someFailed) : cmd.exitOf(run.result),
        ),
    );
}

/** Runs `main` when the file is the process's entry, its result the exit code. */
export function runAsMain(mod: NodeModule, main: (argv: string[]) => Promise<number>): void {
    if (require.main !== mod) return;
    main(process.argv.slice(2)).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.stderr.write(`error: ${errorMessage(err)}\n`);
            process.exitCode = ExitCodes.someFailed;
        },
    );
}
