// Which expired AMIs are kept, and why: keep tag, newest N per group, in use by an instance or launch template.
// Pure: the EC2 lookups happen elsewhere and arrive here as plain data.
import type { CleanupSettings } from "./settings";

export interface Candidate {
    imageId: string;
    name: string;
    creationDate: string;
    tags: Record<string, string>;
    snapshotIds: string[];
    /** Sum of the EBS snapshot mappings' volume sizes: what deleting it frees, at most. */
    sizeGiB: number;
}

/** The settings the keep rules read. */
export type Guardrails = Pick<CleanupSettings, "keepTagKey" | "keepLatest" | "groupByTag">;

/** AMI id → the instance or launch template that uses it. */
export interface Usage {
    instances: Map<string, string>;
    launchTemplates: Map<string, string>;
}

export interface Skipped {
    imageId: string;
    reason: string;
}

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
export function groupOf(c: Candidate, groupByTag: string): string {
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

/** The reason an expired AMI is kept, or undefined when it may be deleted. First matching rule wins. */
export function keepReason(
    c: Candidate,
    rules: Guardrails,
    latest: Set<string>,
    usage?: Usage,
): string | undefined {
    if (hasKeepTag(c.tags, rules.keepTagKey)) return "keep-tag";
    if (latest.has(c.imageId)) return "keep-latest";
    const instance = usage?.instances.get(c.imageId);
    if (instance) return `in-use:instance ${instance}`;
    const template = usage?.launchTemplates.get(c.imageId);
    if (template) return `in-use:launch-template ${template}`;
    return undefined;
}

/**
 * Splits the expired AMIs into those to delete and those kept, with their reason. `all` is every available AMI
 * of the account: the newest of a group may be young. `usage` is undefined when in-use protection is off.
 */
export function selectExpired(
    expired: Candidate[],
    all: Candidate[],
    rules: Guardrails,
    usage?: Usage,
): { toDelete: Candidate[]; skipped: Skipped[] } {
    const latest = newestPerGroup(all, rules.keepLatest, rules.groupByTag);
    const toDelete: Candidate[] = [];
    const skipped: Skipped[] = [];
    for (const c of expired) {
        const reason = keepReason(c, rules, latest, usage);
        if (reason) skipped.push({ imageId: c.imageId, reason });
        else toDelete.push(c);
    }
    return { toDelete, skipped };
}
