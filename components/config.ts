// Validates the stack's config once, before any resource is declared; errors name the key, the value and what is allowed.
import { DEFAULT_CALLS_IN_FLIGHT, parseGuardrails } from "../functions/core/handlers";
import { boolean, validHours, wholeNumber } from "../functions/core/validate";
import { DEFAULT_MAX_CONCURRENCY } from "./definition";
import { EMPTY_MODES, type EmptyMode } from "./selfEmptyingRepository";

export interface ConfigSource {
    get(key: string): string | undefined;
}

export interface JanitorConfig {
    validHours: number;
    schedule: string;
    dryRun: boolean;
    maxConcurrency: number;
    callsPerBatch: number;
    /** One cleanup per region; at least one, no repeats. */
    regions: string[];
    logRetentionDays: number;
    repositoryName: string;
    keepImages: number;
    untaggedExpiryDays: number;
    immutableTags: boolean;
    ecrEmptyMode: EmptyMode;
    keepTagKey: string;
    keepLatest: number;
    /** Empty: group by name. */
    groupByTag: string;
    protectInUse: boolean;
    /** Empty: no email alerts. */
    alertEmail: string;
    /** Empty: no alerts to an existing topic. */
    alertTopicArn: string;
}

export const DEFAULTS = {
    validHours: 168,
    schedule: "rate(1 hour)",
    dryRun: false,
    maxConcurrency: DEFAULT_MAX_CONCURRENCY,
    callsPerBatch: DEFAULT_CALLS_IN_FLIGHT,
    /** Empty: the stack's own region (aws:region). */
    regions: "",
    logRetentionDays: 30,
    /** Empty: derived from the stack's name. */
    repositoryName: "",
    keepImages: 20,
    untaggedExpiryDays: 14,
    immutableTags: false,
    ecrEmptyMode: "dynamic",
    keepTagKey: "image-janitor:keep",
    keepLatest: 0,
    groupByTag: "",
    protectInUse: true,
    alertEmail: "",
    alertTopicArn: "",
} as const;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** `["us-east-1","eu-west-1"]` (what `pulumi config set --path` stores) or `us-east-1,eu-west-1`; empty: the stack's. */
export function parseRegions(value: string, stackRegion: string | undefined, key = "regions"): string[] {
    const allowed = 'a list of AWS regions, e.g. ["us-east-1","eu-west-1"] or us-east-1,eu-west-1';
    if (value.trim() === "") {
        if (!stackRegion) throw new ConfigError(key, value, `${allowed}, or aws:region set`);
        return [stackRegion];
    }
    let list: unknown;
    try {
        list = value.trim().startsWith("[") ? JSON.parse(value) : value.split(",").map((r) => r.trim());
    } catch {
        throw new ConfigError(key, value, allowed);
    }
    if (!Array.isArray(list) || list.length === 0) throw new ConfigError(key, value, allowed);
    for (const r of list) {
        if (typeof r !== "string" || !REGION.test(r))
            throw new ConfigError(key, r, `an AWS region like us-east-1, in ${allowed}`);
    }
    const repeated = list.find((r, i) => list.indexOf(r) !== i);
    if (repeated)
        throw new ConfigError(key, value, `${allowed} without repeats (${repeated} is listed twice)`);
    return list as string[];
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

const REPOSITORY_NAME = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The repository name used when config leaves it empty: `image-janitor-<stack>`, made ECR-safe. */
export function defaultRepositoryName(stack: string): string {
    const safe = stack
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "");
    return `image-janitor-${safe || "stack"}`;
}

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export class ConfigError extends Error {
    constructor(key: string, value: unknown, allowed: string) {
        super(`${key} must be ${allowed} (got ${JSON.stringify(value)})`);
        this.name = "ConfigError";
    }
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON_FIELD = /^[0-9A-Za-z*?,/#\-LW]+$/;

/** EventBridge rate(N unit) (singular unit exactly when N is 1) or cron with six fields and one `?` day field. */
export function validSchedule(value: string, key = "schedule"): string {
    const allowed =
        'rate(N minute|minutes|hour|hours|day|days) or cron(min hour day-of-month month day-of-week year), e.g. "rate(1 hour)"';
    const rate = RATE.exec(value);
    if (rate) {
        const n = Number(rate[1]);
        const singular = !rate[2].endsWith("s");
        if (n >= 1 && singular === (n === 1)) return value;
        throw new ConfigError(key, value, `${allowed}; use the singular unit only for 1`);
    }
    const cron = /^cron\((.*)\)$/.exec(value);
    if (cron) {
        const fields = cron[1].trim().split(/\s+/);
        const oneQuestionMark = (fields[2] === "?") !== (fields[4] === "?");
        if (fields.length === 6 && fields.every((f) => CRON_FIELD.test(f)) && oneQuestionMark) return value;
        throw new ConfigError(
            key,
            value,
            `${allowed}; cron needs six fields and exactly one of day-of-month or day-of-week as ?`,
        );
    }
    throw new ConfigError(key, value, allowed);
}

/** Prefixes the project so the message matches what `pulumi config set` takes. */
function configError(message: string): Error {
    const err = new Error(`invalid config image-janitor:${message}`);
    err.name = "ConfigError";
    return err;
}

function checked<T>(key: string, raw: string, parse: (key: string, raw: string) => T): T {
    try {
        return parse(key, raw);
    } catch (err) {
        throw configError((err as Error).message);
    }
}

/** `stackRegion` is aws:region, the default for `regions`. */
export function readJanitorConfig(config: ConfigSource, stack: string, stackRegion?: string): JanitorConfig {
    const get = (key: string, fallback: string | number | boolean): string => {
        const raw = config.get(key);
        return raw === undefined ? String(fallback) : raw;
    };
    return {
        validHours: checked("validHours", get("validHours", DEFAULTS.validHours), (k, v) => validHours(v, k)),
        schedule: checked("schedule", get("schedule", DEFAULTS.schedule), (k, v) => validSchedule(v, k)),
        dryRun: checked("dryRun", get("dryRun", DEFAULTS.dryRun), boolean),
        maxConcurrency: checked("maxConcurrency", get("maxConcurrency", DEFAULTS.maxConcurrency), (k, v) =>
            wholeNumber(k, v, 1, 40),
        ),
        callsPerBatch: checked("callsPerBatch", get("callsPerBatch", DEFAULTS.callsPerBatch), (k, v) =>
            wholeNumber(k, v, 1, 20),
        ),
        regions: checked("regions", get("regions", DEFAULTS.regions), (k, v) =>
            parseRegions(v, stackRegion, k),
        ),
        logRetentionDays: checked(
            "logRetentionDays",
            get("logRetentionDays", DEFAULTS.logRetentionDays),
            (k, v) => {
                const n = wholeNumber(k, v, 1);
                if (!(LOG_RETENTION_DAYS as readonly number[]).includes(n)) {
                    throw new ConfigError(
                        k,
                        v,
                        `one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(", ")}`,
                    );
                }
                return n;
            },
        ),
        repositoryName: checked("repositoryName", get("repositoryName", DEFAULTS.repositoryName), (k, v) => {
            if (v === "") return defaultRepositoryName(stack);
            if (!REPOSITORY_NAME.test(v)) {
                throw new ConfigError(
                    k,
                    v,
                    "an ECR repository name: 2 to 256 of a-z 0-9 . _ - /, starting and ending with a letter or digit",
                );
            }
            return v;
        }),
        keepImages: checked("keepImages", get("keepImages", DEFAULTS.keepImages), (k, v) =>
            wholeNumber(k, v, 0, 10_000),
        ),
        untaggedExpiryDays: checked(
            "untaggedExpiryDays",
            get("untaggedExpiryDays", DEFAULTS.untaggedExpiryDays),
            (k, v) => wholeNumber(k, v, 0, 36_500),
        ),
        immutableTags: checked("immutableTags", get("immutableTags", DEFAULTS.immutableTags), boolean),
        ecrEmptyMode: checked("ecrEmptyMode", get("ecrEmptyMode", DEFAULTS.ecrEmptyMode), (k, v) => {
            if (!(EMPTY_MODES as readonly string[]).includes(v))
                throw new ConfigError(k, v, `one of ${EMPTY_MODES.join(", ")}`);
            return v as EmptyMode;
        }),
        ...guardrails(get),
        ...alerts(get),
    };
}

function alerts(get: (key: string, fallback: string) => string): {
    alertEmail: string;
    alertTopicArn: string;
} {
    const alertEmail = checked("alertEmail", get("alertEmail", DEFAULTS.alertEmail), (k, v) => {
        if (v !== "" && !EMAIL.test(v)) throw new ConfigError(k, v, "an email address, or empty for none");
        return v;
    });
    const alertTopicArn = checked("alertTopicArn", get("alertTopicArn", DEFAULTS.alertTopicArn), (k, v) => {
        if (v !== "" && !TOPIC_ARN.test(v))
            throw new ConfigError(
                k,
                v,
                "an SNS topic ARN like arn:aws:sns:eu-west-1:123456789012:alerts, or empty",
            );
        return v;
    });
    if (alertEmail && alertTopicArn) {
        throw configError(
            `alertEmail and alertTopicArn are exclusive: set one (got ${JSON.stringify(alertEmail)} and ${JSON.stringify(alertTopicArn)})`,
        );
    }
    return { alertEmail, alertTopicArn };
}

/** The guardrails, checked exactly as the list Lambda checks its event, under the config keys' names. */
function guardrails(get: (key: string, fallback: string | number | boolean) => string) {
    const names = {
        keepTagKey: "keepTagKey",
        keepLatest: "keepLatest",
        groupByTag: "groupByTag",
        protectInUse: "protectInUse",
    };
    try {
        const g = parseGuardrails(
            {
                keepTagKey: get("keepTagKey", DEFAULTS.keepTagKey),
                keepLatest: get("keepLatest", DEFAULTS.keepLatest),
                groupByTag: get("groupByTag", DEFAULTS.groupByTag),
                protectInUse: get("protectInUse", DEFAULTS.protectInUse),
            },
            names,
        );
        return { ...g, groupByTag: g.groupByTag ?? "" };
    } catch (err) {
        throw configError((err as Error).message);
    }
}
