// Which expired AMIs are kept, and why: the keep rules in the order they apply. Pure: the EC2 lookups happen
// elsewhere and arrive here as plain data.
import type { CleanupSettings } from "./settings";
import { DISABLED_AT_TAG_KEY, RESTORED_AT_TAG_KEY } from "./tags";

/** The AMI states the cleanup may delete from; pending, failed, error, invalid and transient AMIs are never touched. */
export const CANDIDATE_STATES: ReadonlySet<string> = new Set(["available", "disabled"]);

export interface Candidate {
    imageId: string;
    name: string;
    creationDate: string;
    /** `available` or `disabled`. */
    state: string;
    tags: Record<string, string>;
    snapshotIds: string[];
    /** Sum of the EBS snapshot mappings' volume sizes: what deleting it frees, at most. */
    sizeGiB: number;
    /** Public launch permissions (Image.Public). */
    public: boolean;
    /** Deregistration protection is on (Image.DeregistrationProtection other than `disabled`). */
    protected: boolean;
    /** When the AMI last launched an instance (Image.LastLaunchedTime), if it ever did. */
    lastLaunchedTime?: string;
}

/** The settings the keep rules read. */
export type Guardrails = Pick<
    CleanupSettings,
    "keepTagKey" | "keepLatest" | "groupByTag" | "keepPublic" | "keepLaunchedWithinDays" | "disableForHours"
>;

/** AMI id → why AWS can still launch from it (`in-use:…`), first lookup that found it wins. */
export type Usage = Map<string, string>;

export interface Skipped {
    imageId: string;
    reason: string;
}

/** The reason strings, in the order the rules apply; the README's "What it keeps, and why" table lists them. */
export const Reasons = {
    keepTag: "keep-tag",
    /** `npm run restore` brought it back from the Recycle Bin. */
    restored: "restored",
    /** The cleanup disabled it and someone enabled it again: they are obeyed. */
    reEnabled: "re-enabled",
    deregistrationProtection: "deregistration-protection",
    public: "public",
    launchedRecently: (at: string) => `launched-recently ${at}`,
    keepLatest: "keep-latest",
    /** Disabled by the cleanup, deleted once it has stayed disabled disableForHours. */
    disabledUntil: (at: string) => `disabled-until ${at}`,
    disabledAtUnreadable: (value: string) => `disabled-at-unreadable ${value}`,
} as const;

const TRAILING_TIMESTAMP = /[-_. ]*\d{4}-?\d{2}-?\d{2}T[\d:.]+Z?$/i;
const TRAILING_VERSION = /[-_. ]+v?\d+$/i;

/** `web-20261101-1200` and `web-20261102-0900` are both `web`; `app-v1.2.3` is `app`. */
export function defaultGroup(name: string): string {
    let group = name.replace(TRAILING_TIMESTAMP, "");
    for (let prev = ""; prev !== group; ) {
        prev = group;
        group = group.replace(TRAILING_VERSION, "");
    }
    return group || name;
}

/** `groupByTag` empty: by name. */
export function groupOf(c: Pick<Candidate, "name" | "tags">, groupByTag: string): string {
    return groupByTag ? `tag:${c.tags[groupByTag] ?? ""}` : `name:${defaultGroup(c.name)}`;
}

const newestFirst = (a: Candidate, b: Candidate) =>
    b.creationDate.localeCompare(a.creationDate) || a.imageId.localeCompare(b.imageId);

/** Ids of the newest `keep` AMIs of every group. */
function newestPerGroup(all: Candidate[], keep: number, groupByTag: string): Set<string> {
    const kept = new Set<string>();
    if (keep <= 0) return kept;
    const groups = new Map<string, Candidate[]>();
    for (const c of all) {
        const key = groupOf(c, groupByTag);
        const members = groups.get(key);
        if (members) members.push(c);
        else groups.set(key, [c]);
    }
    for (const members of groups.values())
        for (const c of members.sort(newestFirst).slice(0, keep)) kept.add(c.imageId);
    return kept;
}

/** The keep tag rule: the tag is present and its value is anything but `false`. */
export function hasKeepTag(tags: Record<string, string>, keepTagKey: string): boolean {
    const value = tags[keepTagKey];
    return value !== undefined && value.trim().toLowerCase() !== "false";
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The rules an AMI's own description decides: what the listing knows of it, and what the batch's re-check sees
 * again just before deleting. First matching rule wins.
 */
export function imageKeepReason(
    c: Pick<Candidate, "state" | "tags" | "protected" | "public" | "lastLaunchedTime">,
    rules: Guardrails,
    now: Date,
): string | undefined {
    if (hasKeepTag(c.tags, rules.keepTagKey)) return Reasons.keepTag;
    if (c.tags[RESTORED_AT_TAG_KEY] !== undefined) return Reasons.restored;
    const disabledAt = c.tags[DISABLED_AT_TAG_KEY];
    // Whatever disableForHours says now: the user's EnableImage is obeyed until they remove the cleanup's tag.
    if (disabledAt !== undefined && c.state === "available") return Reasons.reEnabled;
    if (c.protected) return Reasons.deregistrationProtection;
    if (rules.keepPublic && c.public) return Reasons.public;
    const launched = c.lastLaunchedTime ? Date.parse(c.lastLaunchedTime) : Number.NaN;
    const window = rules.keepLaunchedWithinDays * DAY_MS;
    if (window > 0 && !Number.isNaN(launched) && now.getTime() - launched <= window) {
        return Reasons.launchedRecently(c.lastLaunchedTime ?? "");
    }
    if (disabledAt !== undefined && c.state === "disabled" && rules.disableForHours > 0) {
        const at = Date.parse(disabledAt);
        if (Number.isNaN(at)) return Reasons.disabledAtUnreadable(disabledAt);
        const until = at + rules.disableForHours * HOUR_MS;
        if (now.getTime() < until) return Reasons.disabledUntil(new Date(until).toISOString());
    }
    return undefined;
}

/**
 * What the cleanup does with an AMI no rule keeps: with disableForHours, one it has not disabled yet is disabled
 * first (one someone else disabled gets the cleanup's tag, and its wait starts then); the rest are deleted.
 */
export function stageOf(
    c: Pick<Candidate, "tags">,
    rules: Pick<Guardrails, "disableForHours">,
): "disable" | "delete" {
    return rules.disableForHours > 0 && c.tags[DISABLED_AT_TAG_KEY] === undefined ? "disable" : "delete";
}

/** The reason an expired AMI is kept, or undefined when it may be deleted. First matching rule wins. */
export function keepReason(
    c: Candidate,
    rules: Guardrails,
    latest: Set<string>,
    now: Date,
    usage?: Usage,
): string | undefined {
    return (
        imageKeepReason(c, rules, now) ??
        (latest.has(c.imageId) ? Reasons.keepLatest : undefined) ??
        usage?.get(c.imageId)
    );
}

/**
 * Splits the expired AMIs into those to delete and those kept, with their reason. `all` is every candidate AMI
 * of the account: the newest of a group may be young. `usage` is undefined when in-use protection is off.
 */
export function selectExpired(
    expired: Candidate[],
    all: Candidate[],
    rules: Guardrails,
    now: Date,
    usage?: Usage,
): { toDelete: Candidate[]; skipped: Skipped[] } {
    const latest = newestPerGroup(all, rules.keepLatest, rules.groupByTag);
    const toDelete: Candidate[] = [];
    const skipped: Skipped[] = [];
    for (const c of expired) {
        const reason = keepReason(c, rules, latest, now, usage);
        if (reason) skipped.push({ imageId: c.imageId, reason });
        else toDelete.push(c);
    }
    return { toDelete, skipped };
}
