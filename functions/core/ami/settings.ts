// The cleanup's settings, in one place: their type, their defaults and the one parser that Pulumi config, the
// runner's flags and the Lambda event all use. Each caller passes the names its user wrote, so an error names
// the key that was typed. Loads no SDK: the Pulumi program imports it.
import { ErrorNames, invalidInput, janitorError } from "../shared/errors";
import { boolean, wholeNumber } from "../shared/validate";

export interface CleanupSettings {
    /** An AMI strictly older than this many hours is expired. */
    validHours: number;
    /** Send every EC2 call with DryRun: proves permissions, deletes nothing. */
    dryRun: boolean;
    /** Batches of up to 100 AMIs the Map state works on at once. */
    maxConcurrency: number;
    /** EC2 calls each batch invocation keeps in flight. */
    callsPerBatch: number;
    /** An AMI with this tag key is kept unless the tag's value is `false`. */
    keepTagKey: string;
    /** Keep the newest N AMIs of each group whatever their age; 0 turns it off. */
    keepLatest: number;
    /** Group AMIs by this tag's value for keepLatest; empty groups by name without its version or timestamp. */
    groupByTag: string;
    /**
     * Keep AMIs that AWS can still launch from: instances, launch templates (default, latest and every version a
     * group or fleet names), launch configurations, fleets, and SSM parameters of data type aws:ec2:image.
     */
    protectInUse: boolean;
    /** With protectInUse, also keep AMIs of launch configurations that no Auto Scaling group uses. */
    protectUnattachedLaunchConfigurations: boolean;
    /** Keep public AMIs. */
    keepPublic: boolean;
    /** Keep AMIs shared with another account, organization or OU. */
    keepShared: boolean;
    /** Keep AMIs that launched an instance within this many days (LastLaunchedTime); 0 turns it off. */
    keepLaunchedWithinDays: number;
    /**
     * Also delete snapshots EC2 made for an AMI (`Created by CreateImage(…) for ami-…`) that no longer exists,
     * older than validHours, in use by no AMI, without the keep tag.
     */
    sweepOrphanSnapshots: boolean;
    /**
     * Disable an AMI (DisableImage) before deleting it, and delete it only once it has stayed disabled this many
     * hours: whatever still launches from it fails while EnableImage can still bring it back. 0 deletes at once.
     */
    disableForHours: number;
    /**
     * Days the Recycle Bin keeps what the cleanup deletes (the program's retention rules match the cleanup's
     * deletion tag); 0 creates no rules. The cleanup reports the retention it adds, in GiB × days.
     */
    recycleBinDays: number;
}

export type SettingKey = keyof CleanupSettings;

/** How one setting is declared in Pulumi.yaml, defaulted, checked and offered as a runner flag. */
interface SettingSpec<T> {
    /** Its type in Pulumi.yaml; booleans become switches and the rest take a value as runner flags. */
    type: T extends boolean ? "boolean" : T extends number ? "integer" : "string";
    default: T;
    /** Checks a value under the name its user wrote. Config and flags give strings. */
    parse(value: unknown, key: string): T;
}

const TAG_KEY = /^.{1,128}$/s;

function tagKey(value: unknown, key: string): string {
    if (typeof value !== "string" || !TAG_KEY.test(value) || value.startsWith("aws:")) {
        throw invalidInput(key, value, "a tag key of 1 to 128 characters, not starting with aws:");
    }
    return value;
}

const integer =
    (min: number, max?: number) =>
    (value: unknown, key: string): number =>
        wholeNumber(key, value, min, max);
const bool = (value: unknown, key: string) => boolean(key, value);

export const SETTINGS: { [K in SettingKey]: SettingSpec<CleanupSettings[K]> } = {
    validHours: { type: "integer", default: 168, parse: integer(1) },
    dryRun: { type: "boolean", default: false, parse: bool },
    // One batch deregisters while the other deletes snapshots, which keeps both of EC2's buckets busy.
    maxConcurrency: { type: "integer", default: 2, parse: integer(1, 40) },
    callsPerBatch: { type: "integer", default: 4, parse: integer(1, 20) },
    keepTagKey: { type: "string", default: "image-janitor:keep", parse: tagKey },
    keepLatest: { type: "integer", default: 0, parse: integer(0, 1000) },
    groupByTag: {
        type: "string",
        default: "",
        parse: (value, key) => (value === "" ? "" : tagKey(value, key)),
    },
    protectInUse: { type: "boolean", default: true, parse: bool },
    protectUnattachedLaunchConfigurations: { type: "boolean", default: true, parse: bool },
    keepPublic: { type: "boolean", default: true, parse: bool },
    keepShared: { type: "boolean", default: true, parse: bool },
    keepLaunchedWithinDays: { type: "integer", default: 0, parse: integer(0, 3650) },
    sweepOrphanSnapshots: { type: "boolean", default: false, parse: bool },
    disableForHours: { type: "integer", default: 0, parse: integer(0, 8760) },
    // Recycle Bin retention rules keep snapshots and EBS-backed AMIs for 1 to 365 days.
    recycleBinDays: { type: "integer", default: 0, parse: integer(0, 365) },
};

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export const DEFAULT_SETTINGS = Object.fromEntries(
    SETTING_KEYS.map((k) => [k, SETTINGS[k].default]),
) as unknown as CleanupSettings;

export interface ParseOptions {
    /** What the caller's user calls each setting: `validHours`, `--valid-hours`, `settings.validHours`. */
    nameOf: (key: SettingKey) => string;
    /** Settings the caller must give; the others default. */
    required?: readonly SettingKey[];
    /** Reject keys that are not settings (the Lambda event: a typo must not fall back to a default). */
    strict?: boolean;
}

/**
 * Checks and defaults every setting, then the rules between them. Values may be strings (config, flags) or the
 * parsed types (the Lambda event). Every error names the key as the caller's user wrote it.
 */
export function parseSettings(raw: Record<string, unknown>, opts: ParseOptions): CleanupSettings {
    const { nameOf, required = [], strict = false } = opts;
    if (strict) {
        const unknown = Object.keys(raw).find((k) => !(k in SETTINGS));
        if (unknown !== undefined) {
            throw invalidInput(
                unknown,
                raw[unknown],
                `absent: it is not a setting (${SETTING_KEYS.join(", ")})`,
            );
        }
    }
    const parsed = {} as Record<SettingKey, unknown>;
    for (const key of SETTING_KEYS) {
        const value = raw[key];
        if (value === undefined && required.includes(key)) {
            throw janitorError(ErrorNames.invalidInput, `${nameOf(key)} is required`);
        }
        parsed[key] = value === undefined ? SETTINGS[key].default : SETTINGS[key].parse(value, nameOf(key));
    }
    const settings = parsed as CleanupSettings;
    if (settings.groupByTag !== "" && settings.keepLatest === 0) {
        throw invalidInput(
            nameOf("groupByTag"),
            settings.groupByTag,
            `empty while ${nameOf("keepLatest")} is 0: it groups AMIs for ${nameOf("keepLatest")} and does nothing else; set ${nameOf("keepLatest")} to 1 or more`,
        );
    }
    return settings;
}

/** The runner's flag for a setting: kebab-case, and `--no-` for a switch that is on by default. */
export function flagOf(key: SettingKey): string {
    const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    return SETTINGS[key].type === "boolean" && SETTINGS[key].default === true ? `no-${kebab}` : kebab;
}

/** Settings from code (the demo, the benchmark, tests): the defaults with these changes, checked as config is. */
export function settingsWith(changes: Partial<CleanupSettings>): CleanupSettings {
    return parseSettings(changes, { nameOf: (key) => key, strict: true });
}
