// Validates the stack's config once, before any resource is declared; errors name the key, the value and what is allowed.
// The cleanup's settings are read by the settings module's parser; the keys here are the program's own.
import { type CleanupSettings, parseSettings, SETTING_KEYS } from "../functions/core/ami/settings";
import { ErrorNames, errorMessage, invalidInput, janitorError } from "../functions/core/shared/errors";
import { parseRegions } from "../functions/core/shared/regions";
import { boolean, wholeNumber } from "../functions/core/shared/validate";
import { validSchedule } from "./scheduleExpression";
import { EMPTY_MODES, type EmptyMode } from "./selfEmptyingRepository";

export interface ConfigSource {
    get(key: string): string | undefined;
}

export interface JanitorConfig {
    /** What the cleanup deletes and keeps: every region's state machine runs with these. */
    settings: CleanupSettings;
    schedule: string;
    /** One cleanup per region; at least one, no repeats. */
    regions: string[];
    logRetentionDays: number;
    repositoryName: string;
    keepImages: number;
    untaggedExpiryDays: number;
    immutableTags: boolean;
    ecrEmptyMode: EmptyMode;
    /** Empty: no email alerts. */
    alertEmail: string;
    /** Empty: no alerts to an existing topic. */
    alertTopicArn: string;
}

/** The program's own keys' defaults; the cleanup settings' are the settings module's. */
export const PROGRAM_DEFAULTS = {
    schedule: "rate(1 hour)",
    /** Empty: the stack's own region (aws:region). */
    regions: "",
    logRetentionDays: 30,
    /** Empty: derived from the stack's name. */
    repositoryName: "",
    keepImages: 20,
    untaggedExpiryDays: 14,
    immutableTags: false,
    ecrEmptyMode: "dynamic",
    alertEmail: "",
    alertTopicArn: "",
} as const;

/**
 * An address SNS can deliver to: a dot-atom local part (RFC 5322: no spaces, no brackets, no two dots in a row)
 * at a domain of LDH labels ending in a top-level domain of two letters or more.
 */
const EMAIL =
    /^(?=.{6,254}$)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
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

/** Prefixes the project to a check's error, so the key reads as `pulumi config set` takes it. */
function configError(err: unknown): Error {
    return janitorError(ErrorNames.invalidInput, `invalid config image-janitor:${errorMessage(err)}`);
}

function checked<T>(key: string, raw: string, parse: (key: string, raw: string) => T): T {
    try {
        return parse(key, raw);
    } catch (err) {
        throw configError(err);
    }
}

/** The cleanup's settings under their config keys; unset keys take the settings module's defaults. */
function settingsOf(config: ConfigSource): CleanupSettings {
    const raw: Record<string, unknown> = {};
    for (const key of SETTING_KEYS) {
        const value = config.get(key);
        if (value !== undefined) raw[key] = value;
    }
    try {
        return parseSettings(raw, { nameOf: (key) => key });
    } catch (err) {
        throw configError(err);
    }
}

/** `stackRegion` is aws:region, the default for `regions`. */
export function readJanitorConfig(config: ConfigSource, stack: string, stackRegion?: string): JanitorConfig {
    const get = (key: string, fallback: string | number | boolean): string => {
        const raw = config.get(key);
        return raw === undefined ? String(fallback) : raw;
    };
    return {
        settings: settingsOf(config),
        schedule: checked("schedule", get("schedule", PROGRAM_DEFAULTS.schedule), (k, v) =>
            validSchedule(v, k),
        ),
        regions: checked("regions", get("regions", PROGRAM_DEFAULTS.regions), (k, v) =>
            parseRegions(v, stackRegion, k),
        ),
        logRetentionDays: checked(
            "logRetentionDays",
            get("logRetentionDays", PROGRAM_DEFAULTS.logRetentionDays),
            (k, v) => {
                const n = wholeNumber(k, v, 1);
                if (!(LOG_RETENTION_DAYS as readonly number[]).includes(n)) {
                    throw invalidInput(
                        k,
                        v,
                        `one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(", ")}`,
                    );
                }
                return n;
            },
        ),
        repositoryName: checked(
            "repositoryName",
            get("repositoryName", PROGRAM_DEFAULTS.repositoryName),
            (k, v) => {
                if (v === "") return defaultRepositoryName(stack);
                if (!REPOSITORY_NAME.test(v)) {
                    throw invalidInput(
                        k,
                        v,
                        "an ECR repository name: 2 to 256 of a-z 0-9 . _ - /, starting and ending with a letter or digit",
                    );
                }
                return v;
            },
        ),
        keepImages: checked("keepImages", get("keepImages", PROGRAM_DEFAULTS.keepImages), (k, v) =>
            wholeNumber(k, v, 0, 10_000),
        ),
        untaggedExpiryDays: checked(
            "untaggedExpiryDays",
            get("untaggedExpiryDays", PROGRAM_DEFAULTS.untaggedExpiryDays),
            (k, v) => wholeNumber(k, v, 0, 36_500),
        ),
        immutableTags: checked(
            "immutableTags",
            get("immutableTags", PROGRAM_DEFAULTS.immutableTags),
            boolean,
        ),
        ecrEmptyMode: checked("ecrEmptyMode", get("ecrEmptyMode", PROGRAM_DEFAULTS.ecrEmptyMode), (k, v) => {
            if (!(EMPTY_MODES as readonly string[]).includes(v))
                throw invalidInput(k, v, `one of ${EMPTY_MODES.join(", ")}`);
            return v as EmptyMode;
        }),
        ...alerts(get),
    };
}

function alerts(get: (key: string, fallback: string) => string): {
    alertEmail: string;
    alertTopicArn: string;
} {
    const alertEmail = checked("alertEmail", get("alertEmail", PROGRAM_DEFAULTS.alertEmail), (k, v) => {
        if (v !== "" && !EMAIL.test(v)) throw invalidInput(k, v, "an email address, or empty for none");
        return v;
    });
    const alertTopicArn = checked(
        "alertTopicArn",
        get("alertTopicArn", PROGRAM_DEFAULTS.alertTopicArn),
        (k, v) => {
            if (v !== "" && !TOPIC_ARN.test(v))
                throw invalidInput(
                    k,
                    v,
                    "an SNS topic ARN like arn:aws:sns:eu-west-1:123456789012:alerts, or empty",
                );
            return v;
        },
    );
    if (alertEmail && alertTopicArn) {
        throw configError(
            `alertEmail and alertTopicArn are exclusive: set one (got ${JSON.stringify(alertEmail)} and ${JSON.stringify(alertTopicArn)})`,
        );
    }
    return { alertEmail, alertTopicArn };
}
