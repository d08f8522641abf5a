// Human-readable rendering of a run summary (the CLI's table and the demo's output).
import type { RunSummary } from "./run";

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

export function renderSummary(s: RunSummary): string {
    if (s.overlapSkipped) return "Skipped: an earlier run of this state machine is still running.\n";
    const outcome = new Map<string, string>();
    for (const d of s.deleted) outcome.set(d.imageId, "deleted");
    for (const d of s.wouldDelete) outcome.set(d.imageId, "would delete");
    for (const f of s.failed) outcome.set(f.imageId, "FAILED");
    const rows = [["IMAGE ID", "NAME", "CREATED", "RESULT", "SNAPSHOTS"]];
    for (const image of s.expired) {
        rows.push([
            image.imageId,
            image.name || "-",
            image.creationDate,
            outcome.get(image.imageId) ?? "-",
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
    for (const f of s.failed) lines.push(`failed ${f.imageId}: ${f.error}`);
    const done = s.dryRun ? `would delete ${s.wouldDelete.length}` : `deleted ${s.deleted.length}`;
    for (const k of s.skipped) lines.push(`kept ${k.imageId}: ${k.reason}`);
    lines.push(
        `expired ${s.expired.length}, ${done}, kept ${s.skipped.length}, failed ${s.failed.length}, about ${s.estimatedGiB} GiB of snapshots`,
        `${s.stats.executions} execution(s), ${s.stats.lambdaInvocations} Lambda invocations, ${s.stats.stateTransitions} state transitions`,
    );
    return `${lines.join("\n")}\n`;
}
