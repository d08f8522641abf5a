// `npm run cleanup`: runs the cleanup state machine locally against the AWS endpoint the environment selects.
// Its flags are the settings module's, in kebab-case; exit codes say what went wrong.
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";
import {
    type CleanupSettings,
    DEFAULT_SETTINGS,
    flagOf,
    parseSettings,
    SETTING_KEYS,
    SETTINGS,
    type SettingKey,
} from "../functions/core/ami/settings";
import {
    autoScalingClientConfig,
    clientConfig,
    ec2ClientConfig,
    ssmClientConfig,
} from "../functions/core/shared/clients";
import { classify, ErrorNames, errorMessage, errorName, janitorError } from "../functions/core/shared/errors";
import { silentLog, stderrLog } from "../functions/core/shared/log";
import { createPacer, paced } from "../functions/core/shared/pacing";
import { checkRegions } from "../functions/core/shared/regions";
import {
    EXIT_BY_ERROR,
    ExitCodes,
    endpointOf,
    type FlagSpec,
    nonEmpty,
    parseFlags,
    type RegionOutcome,
    regionOf,
    runAsMain,
    runCommand,
    runError,
} from "./command";
import { runningDeployedExecutions } from "./deployed";
import { renderSummary } from "./report";
import { type RunSummary, runCleanup } from "./run";

/** Older spellings that keep working. */
const ALIASES: Partial<Record<string, SettingKey>> = { "keep-tag": "keepTagKey" };

/** Flags that are not settings. */
const RUNNER_FLAGS = {
    json: { type: "boolean" },
    verbose: { type: "boolean" },
    help: { type: "boolean" },
    region: { type: "string", multiple: true },
    profile: { type: "string" },
    force: { type: "boolean" },
    unpaced: { type: "boolean" },
} as const;

const isSwitch = (key: SettingKey) => SETTINGS[key].type === "boolean";

const OPTIONS: Record<string, FlagSpec> = {
    ...Object.fromEntries(
        SETTING_KEYS.map((key) => [flagOf(key), { type: isSwitch(key) ? "boolean" : "string" }]),
    ),
    ...Object.fromEntries(Object.keys(ALIASES).map((alias) => [alias, { type: "string" }])),
    ...RUNNER_FLAGS,
};

function usage(): string {
    const flags = SETTING_KEYS.map((key) => {
        const d = SETTINGS[key].default;
        if (isSwitch(key)) return `[--${flagOf(key)}]`;
        return key === "validHours" ? `--${flagOf(key)} <N>` : `[--${flagOf(key)} <${d === "" ? "…" : d}>]`;
    });
    const lines: string[] = [];
    let line = "usage: npm run cleanup --";
    for (const f of [
        ...flags,
        "[--region <R>]...",
        "[--profile <P>]",
        "[--force]",
        "[--unpaced]",
        "[--json]",
        "[--verbose]",
    ]) {
        if (line.length + f.length > 110) {
            lines.push(line);
            line = "        ";
        }
        line += ` ${f}`;
    }
    lines.push(line);
    return `${lines.join("\n")}

Deregisters the account's AMIs strictly older than --valid-hours and deletes their EBS snapshots, by running the
deployed state machine's definition in this process. --region (repeatable) and --profile, or AWS_REGION, the
credential chain and AWS_ENDPOINT_URL, select the account or a local emulator. Each flag is the config key of the
same name (README: Configuration). Try --dry-run first: it sends every call with EC2's DryRun flag.
Before it deletes, it checks that no deployed cleanup of the region is running, and refuses if one is (--force
runs anyway). Deletions are paced just under EC2's refill rates (DeregisterImage and DeleteSnapshot: 5 a second
per region, of which it takes 97%); --unpaced sends them as fast as the endpoint answers, for an emulator that
does not throttle. Exit codes: 0 done, 1 some AMIs failed, 2 bad flags, 3 endpoint unreachable, 4 no usable
credentials, 5 access denied, 6 a deployed cleanup is running (or that could not be checked).`;
}

export interface CliOptions {
    settings: CleanupSettings;
    json: boolean;
    verbose: boolean;
    /** Empty: the region the environment or profile selects. */
    regions: string[];
    profile?: string;
    /** Delete even while a deployed cleanup of the region is running. */
    force: boolean;
    /** Send EC2 calls as fast as the endpoint answers (an emulator), not paced to EC2's refill rates. */
    unpaced: boolean;
    help: boolean;
}

/** Every flag error, from parseArgs or from a value check, is an invalid-input error (exit code 2). */
export function parseCli(argv: string[]): CliOptions {
    const { values, given } = parseFlags(argv, OPTIONS);
    // The flag the user typed for each setting, so that an error names it.
    const typed = new Map<SettingKey, string>(SETTING_KEYS.map((k) => [k, flagOf(k)]));
    for (const [alias, key] of Object.entries(ALIASES)) {
        if (!key || !given.has(alias)) continue;
        if (given.has(flagOf(key))) {
            throw janitorError(
                ErrorNames.invalidInput,
                `--${alias} and --${flagOf(key)} are the same setting; give one`,
            );
        }
        typed.set(key, alias);
    }
    const raw: Record<string, unknown> = {};
    for (const key of SETTING_KEYS) {
        const value = values[typed.get(key) ?? flagOf(key)];
        if (value === undefined) continue;
        // A switch given turns its setting from its default to the other value.
        raw[key] = isSwitch(key) ? !SETTINGS[key].default : value;
    }
    const common = {
        json: values.json === true,
        verbose: values.verbose === true,
        force: values.force === true,
        unpaced: values.unpaced === true,
    };
    if (values.help === true) return { ...common, settings: DEFAULT_SETTINGS, regions: [], help: true };
    return {
        ...common,
        settings: parseSettings(raw, { nameOf: (k) => `--${typed.get(k)}`, required: ["validHours"] }),
        regions: checkRegions((values.region as string[] | undefined) ?? [], "--region"),
        ...(typeof values.profile === "string" ? { profile: nonEmpty(values.profile) } : {}),
        help: false,
    };
}

/** What one region's run ended with: its summary, or the error that stopped it. */
type RegionRun = RegionOutcome<RunSummary>;

function exitCodeOf(summary: RunSummary): number {
    const codes = summary.failed.map((f) => EXIT_BY_ERROR[f.error.split(":")[0]] ?? ExitCodes.someFailed);
    return Math.max(ExitCodes.done, ...codes);
}

async function runRegion(region: string | undefined, opts: CliOptions): Promise<RegionRun> {
    const where = { ...(region ? { region } : {}), ...(opts.profile ? { profile: opts.profile } : {}) };
    const client = new EC2Client({ ...ec2ClientConfig, ...where });
    // One pacer for the whole run: every batch of this process goes through it.
    const ec2 = opts.unpaced ? client : paced(client, createPacer());
    const clients = {
        ec2,
        autoScaling: new AutoScalingClient({ ...autoScalingClientConfig, ...where }),
        ssm: new SSMClient({ ...ssmClientConfig, ...where }),
    };
    const resolved = await regionOf(ec2);
    if (!opts.settings.dryRun && !opts.force) {
        const refusal = await deployedRunCheck(new SFNClient({ ...clientConfig, ...where }), resolved);
        if (refusal) return { region: resolved, error: refusal };
    }
    try {
        const summary = await runCleanup({
            clients,
            settings: opts.settings,
            log: opts.json || opts.verbose ? stderrLog : silentLog,
            onProgress: opts.json
                ? undefined
                : (done, total) => process.stderr.write(`\r${resolved}: ${done}/${total} AMIs done`),
        });
        if (!opts.json && summary.expired.length > 0) process.stderr.write("\n");
        return { region: resolved, result: summary };
    } catch (err) {
        return { region: resolved, error: runError(err, resolved) };
    } finally {
        for (const c of Object.values(clients)) c.destroy();
    }
}

/** Why the run must not go on, or undefined: a deployed cleanup of the region is running, or that cannot be told. */
async function deployedRunCheck(sfn: SFNClient, region: string): Promise<Error | undefined> {
    try {
        const running = await runningDeployedExecutions(sfn);
        if (running.length === 0) return undefined;
        return janitorError(
            ErrorNames.deployedRunInProgress,
            `a deployed cleanup is running in ${region} (${running.join(", ")}); running beside it would fight over EC2's buckets and report its deletions as already gone. Wait for it, stop it, or give --force`,
        );
    } catch (err) {
        // AWS that cannot be used at all exits as such; anything else is this check's own refusal.
        const name = classify(err);
        return janitorError(
            name in EXIT_BY_ERROR ? name : ErrorNames.deployedRunInProgress,
            `could not check whether a deployed cleanup is running in ${region} at ${endpointOf(region)}: ${errorName(err)}: ${errorMessage(err)}; give --force to run without the check`,
        );
    } finally {
        sfn.destroy();
    }
}

export const main = (argv: string[]) =>
    runCommand(argv, {
        usage,
        parse: parseCli,
        runRegion,
        docOf: (summary) => summary,
        render: (summary) => renderSummary(summary),
        exitOf: exitCodeOf,
    });

runAsMain(module, main);
