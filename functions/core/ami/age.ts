// An AMI's age, and the one rule for "expired": strictly older than validHours, over the whole interval.

const HOUR_MS = 3_600_000;

/** Age over the whole interval, in hours; NaN when the date cannot be read. */
export function ageHours(creationDate: string, now: Date): number {
    const created = Date.parse(creationDate);
    return Number.isNaN(created) ? Number.NaN : (now.getTime() - created) / HOUR_MS;
}

/** Strictly older than validHours. An unreadable date is never expired: we keep what we cannot age. */
export function isExpired(creationDate: string, validHours: number, now: Date): boolean {
    const age = ageHours(creationDate, now);
    return !Number.isNaN(age) && age > validHours;
}
