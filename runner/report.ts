// Human-readable rendering of a run summary (the CLI's table and the demo's output).
import { type RunSummary, resultsOf } from "./run";

function table(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows
        .map((r) =>
            r
                .map((cell, i) => cell.padEnd(widths[i]))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

const LABELS = {
    deleted: "deleted",
    "would-delete": "would delete",
    disabled: "disabled",
    "would-disable": "would disable",
    "already-gone": "already gone (someone else)",
    kept: "kept",
    failed: "FAILED",
} as const;

function resultText(result: keyof typeof LABELS, detail: string): string {
    if (result === "kept") return `kept: ${detail}`;
    if (result === "disabled") return `disabled at ${detail}`;
    return LABELS[result];
}

export function renderSummary(s: RunSummary): string {
    if (s.overlapSkipped) return "Skipped: an earlier run of this state machine is still running.\n";
    const results = resultsOf(s);
    const rows = [["IMAGE ID", "NAME", "CREATED", "RESULT", "SNAPSHOTS"]];
    for (const image of s.expired) {
        const r = results.get(image.imageId);
        rows.push([
            image.imageId,
            image.name || "-",
            image.creationDate,
            r ? resultText(r.result, r.detail) : "-",
            image.snapshotIds.join(",") || "-",
        ]);
    }
    const lines = [
        s.dryRun
            ? `Dry run: AMIs older than ${s.validHours} hours, nothing deleted.`
            : `AMIs older than ${s.validHours} hours:`,
        s.expired.length > 0 ? table(rows) : "(none)",
    ];
    for (const k of s.skippedSnapshots)
        lines.push(`kept snapshot ${k.snapshotId} of ${k.imageId}: ${k.reason}`);
    for (const g of s.alreadyGone)
        if (g.snapshotIds.length > 0)
            lines.push(
                `left alone: snapshots ${g.snapshotIds.join(",")} of ${g.imageId}, which someone else deregistered`,
            );
    for (const f of s.failed) lines.push(`failed ${f.imageId}: ${f.error}`);
    for (const x of s.strays)
        lines.push(
            `snapshot ${x.snapshotId} (${x.reason}): ${LABELS[x.status]}${x.detail ? `: ${x.detail}` : ""}`,
        );
    const done = s.dryRun ? `would delete ${s.wouldDelete.length}` : `deleted ${s.deleted.length}`;
    const disabled = s.dryRun ? s.wouldDisable.length : s.disabled.length;
    const staged = disabled > 0 ? `, ${s.dryRun ? "would disable" : "disabled"} ${disabled}` : "";
    if (s.retention)
        lines.push(
            `Recycle Bin: ${s.dryRun ? "would keep" : "keeps"} up to ${s.retention.retainedGiB} GiB of this run's deletions for ${s.retention.recycleBinDays} days (${s.retention.gibDays} GiB-days of snapshot storage); npm run restore brings them back`,
        );
    lines.push(
        `expired ${s.expired.length}, ${done}${staged}, already gone ${s.alreadyGone.length}, kept ${s.skipped.length}, failed ${s.failed.length}, about ${s.estimatedGiB} GiB of snapshots`,
        `${s.stats.executions} execution(s), ${s.stats.lambdaInvocations} Lambda invocations, ${s.stats.stateTransitions} state transitions`,
    );
    return `${lines.join("\n")}\n`;
}
