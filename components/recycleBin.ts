// The Recycle Bin retention rules' arguments, built pure: plain values in, the `aws.rbin.Rule` inputs out.
import { DELETING_TAG } from "../functions/core/ami/tags";

/** What the Recycle Bin retains: the cleanup's deregistered AMIs and its deleted snapshots, one rule each. */
export const RECYCLE_BIN_RESOURCES = { images: "EC2_IMAGE", snapshots: "EBS_SNAPSHOT" } as const;

export type RecycleBinKey = keyof typeof RECYCLE_BIN_RESOURCES;

export interface RecycleBinRuleArgs {
    description: string;
    resourceType: (typeof RECYCLE_BIN_RESOURCES)[RecycleBinKey];
    resourceTags: { resourceTagKey: string; resourceTagValue: string }[];
    retentionPeriod: { retentionPeriodValue: number; retentionPeriodUnit: "DAYS" };
}

/**
 * A tag-level rule that matches only the cleanup's deletion tag: the cleanup writes it on an AMI and its
 * snapshots just before deleting them, so nobody else's deletions are retained, and a rule that matches nothing
 * else costs nothing else. No lock: `pulumi destroy` (or recycleBinDays: 0) removes the rules, and what the bin
 * already holds stays until its retention ends.
 */
export function recycleBinRuleArgs(key: RecycleBinKey, days: number): RecycleBinRuleArgs {
    if (!Number.isInteger(days) || days < 1 || days > 365)
        throw new RangeError(`recycleBinDays must be a whole number of days from 1 to 365 (got ${days})`);
    const what = key === "images" ? "AMIs" : "EBS snapshots";
    return {
        description: `image-janitor: keeps the ${what} the AMI cleanup deletes for ${days} days`,
        resourceType: RECYCLE_BIN_RESOURCES[key],
        resourceTags: [{ resourceTagKey: DELETING_TAG.Key, resourceTagValue: DELETING_TAG.Value }],
        retentionPeriod: { retentionPeriodValue: days, retentionPeriodUnit: "DAYS" },
    };
}
