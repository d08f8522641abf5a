// `npm run restore`: brings the cleanup's deletions back from the Recycle Bin, in the regions selected as for
// `npm run cleanup`. A thin command over functions/core/ami/restore.ts.
import { EC2Client } from "@aws-sdk/client-ec2";
import { type RestoreRecord, type RestoreStatus, restoreDeletions } from "../functions/core/ami/restore";
import { IMAGE_ID } from "../functions/core/ami/tasks";
import { ec2ClientConfig } from "../functions/core/shared/clients";
import { ErrorNames, invalidInput, janitorError } from "../functions/core/shared/errors";
import { silentLog, stderrLog } from "../functions/core/shared/log";
import { checkRegions } from "../functions/core/shared/regions";
import { wholeNumber } from "../functions/core/shared/validate";
import {
    ExitCodes,
    nonEmpty,
    parseFlags,
    type RegionOutcome,
    regionOf,
    runAsMain,
    runCommand,
    runError,
} from "./command";

const OPTIONS = {
    "image-id": { type: "string", multiple: true },
    "deleted-within": { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
    help: { type: "boolean" },
    region: { type: "string", multiple: true },
    profile: { type: "string" },
} as const;

const USAGE = `usage: npm run restore -- (--image-id <ami-…>... | --deleted-within <hours>) [--dry-run] [--region <R>]...
        [--profile <P>] [--json] [--verbose]

Restores AMIs the cleanup deleted, with their snapshots, from the Recycle Bin (the stack's recycleBinDays keeps
them). --image-id (repeatable) names them; --deleted-within takes every deletion of the cleanup in the last N hours.
Snapshots are restored first, then the AMI, as EC2 requires; a restored AMI carries image-janitor:restored-at and
the cleanup keeps it from then on (remove the tag to let the rules apply again). --dry-run restores nothing and
says what it would. AMIs in the bin that the cleanup did not delete are reported, never restored. Run it again at
any time: what is back already is said so, not restored twice.
Exit codes: 0 done, 1 some AMIs could not be restored, 2 bad flags, 3 endpoint unreachable, 4 no usable
credentials, 5 access denied.`;

export interface RestoreCliOptions {
    imageIds?: string[];
    deletedWithinHours?: number;
    dryRun: boolean;
    json: boolean;
    verbose: boolean;
    regions: string[];
    profile?: string;
    help: boolean;
}

export function parseRestoreCli(argv: string[]): RestoreCliOptions {
    const { values } = parseFlags(argv, OPTIONS);
    const common = {
        dryRun: values["dry-run"] === true,
        json: values.json === true,
        verbose: values.verbose === true,
        help: values.help === true,
    };
    if (common.help) return { ...common, regions: [] };
    const ids = values["image-id"] as string[] | undefined;
    const within = values["deleted-within"] as string | undefined;
    if ((ids === undefined) === (within === undefined))
        throw janitorError(
            ErrorNames.invalidInput,
            "give either --image-id (one or more) or --deleted-within <hours>, not both",
        );
    for (const id of ids ?? [])
        if (!IMAGE_ID.test(id)) throw invalidInput("--image-id", id, "an AMI id like ami-0123456789abcdef0");
    return {
        ...common,
        ...(ids ? { imageIds: [...new Set(ids)] } : {}),
        // The Recycle Bin keeps deletions at most 365 days.
        ...(within !== undefined
            ? { deletedWithinHours: wholeNumber("--deleted-within", within, 1, 8760) }
            : {}),
        regions: checkRegions((values.region as string[] | undefined) ?? [], "--region"),
        ...(typeof values.profile === "string" ? { profile: nonEmpty(values.profile) } : {}),
    };
}

type RegionRestore = RegionOutcome<RestoreRecord[]>;

async function restoreRegion(region: string | undefined, opts: RestoreCliOptions): Promise<RegionRestore> {
    const where = { ...(region ? { region } : {}), ...(opts.profile ? { profile: opts.profile } : {}) };
    const ec2 = new EC2Client({ ...ec2ClientConfig, ...where });
    const resolved = await regionOf(ec2);
    try {
        const records = await restoreDeletions(ec2, {
            dryRun: opts.dryRun,
            log: opts.json || opts.verbose ? stderrLog : silentLog,
            ...(opts.imageIds ? { imageIds: opts.imageIds } : {}),
            ...(opts.deletedWithinHours !== undefined ? { deletedWithinHours: opts.deletedWithinHours } : {}),
        });
        return { region: resolved, result: records };
    } catch (err) {
        return { region: resolved, error: runError(err, resolved) };
    } finally {
        ec2.destroy();
    }
}

const LABELS: Record<RestoreStatus, string> = {
    restored: "restored",
    "would-restore": "would restore",
    "already-restored": "already restored",
    "not-deleted": "not deleted",
    "not-in-bin": "not in the Recycle Bin",
    "not-ours": "not the cleanup's",
    failed: "FAILED",
};

function detailOf(r: RestoreRecord): string {
    if (r.status === "restored") return r.reEnabled ? "enabled again (the cleanup had disabled it)" : "";
    return r.binExitsAt ? `deleted ${r.deletedAt}, in the bin until ${r.binExitsAt}` : "";
}

export function renderRestore(
    records: RestoreRecord[],
    opts: Pick<RestoreCliOptions, "dryRun" | "deletedWithinHours">,
): string {
    if (records.length === 0)
        return `Nothing of the cleanup's in the Recycle Bin${opts.deletedWithinHours ? ` deleted within ${opts.deletedWithinHours} hours` : ""}.\n`;
    const rows = [
        ["AMI", "RESULT", "SNAPSHOTS", "DETAIL"],
        ...records.map((r) => [
            r.imageId,
            LABELS[r.status],
            r.snapshotIds.join(",") || "-",
            r.detail ?? detailOf(r),
        ]),
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    const lines = rows.map((row) =>
        row
            .map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c])))
            .join("  ")
            .trimEnd(),
    );
    const count = (s: RestoreStatus) => records.filter((r) => r.status === s).length;
    lines.push(
        `${opts.dryRun ? `would restore ${count("would-restore")}` : `restored ${count("restored")}`}, already restored ${count("already-restored")}, not in the bin ${count("not-in-bin")}, not the cleanup's ${count("not-ours")}, not deleted ${count("not-deleted")}, failed ${count("failed")}`,
    );
    return `${lines.join("\n")}\n`;
}

export const main = (argv: string[]) =>
    runCommand(argv, {
        usage: () => USAGE,
        parse: parseRestoreCli,
        runRegion: restoreRegion,
        docOf: (records, opts) => ({ dryRun: opts.dryRun, images: records }),
        render: renderRestore,
        exitOf: (records) =>
            records.some((r) => r.status === "failed") ? ExitCodes.someFailed : ExitCodes.done,
    });

runAsMain(module, main);
