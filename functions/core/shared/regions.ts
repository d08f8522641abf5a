// Which regions a cleanup runs in: the config key `regions` and the runner's `--region` share this check, against
// the region list @pulumi/aws ships (its enums module alone: it loads neither the provider nor an SDK).
import { Region } from "@pulumi/aws/types/enums";
import { invalidInput } from "./errors";

export const AWS_REGIONS: readonly string[] = Object.values(Region);

/** One region name, known to @pulumi/aws. */
export function checkRegion(value: unknown, key: string): string {
    if (typeof value !== "string" || !AWS_REGIONS.includes(value)) {
        throw invalidInput(key, value, "an AWS region, e.g. us-east-1 or eu-west-1");
    }
    return value;
}

/** A list of regions without repeats; `given` is the whole value as the user wrote it, for the error. */
export function checkRegions(list: readonly unknown[], key: string, given: unknown = list): string[] {
    const regions = list.map((r) => checkRegion(r, key));
    const repeated = regions.find((r, i) => regions.indexOf(r) !== i);
    if (repeated) throw invalidInput(key, given, `regions without repeats (${repeated} is given twice)`);
    return regions;
}

/** `["us-east-1","eu-west-1"]` (what `pulumi config set --path` stores) or `us-east-1,eu-west-1`; empty: the stack's. */
export function parseRegions(value: string, stackRegion: string | undefined, key = "regions"): string[] {
    const allowed = 'a list of AWS regions, e.g. ["us-east-1","eu-west-1"] or us-east-1,eu-west-1';
    if (value.trim() === "") {
        if (!stackRegion) throw invalidInput(key, value, `${allowed}, or aws:region set`);
        return [stackRegion];
    }
    let list: unknown;
    try {
        list = value.trim().startsWith("[") ? JSON.parse(value) : value.split(",").map((r) => r.trim());
    } catch {
        throw invalidInput(key, value, allowed);
    }
    if (!Array.isArray(list) || list.length === 0) throw invalidInput(key, value, allowed);
    return checkRegions(list, key, value);
}
