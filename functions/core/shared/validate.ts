// Input checks shared by config, Lambda events and runner flags: every error names the key, the value and what is allowed.
import { invalidInput } from "./errors";

/** A whole number in [min, max]; accepts its decimal string form too (config and flags arrive as strings). */
export function wholeNumber(key: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
        throw invalidInput(key, value, `a whole number ${range}`);
    }
    return n;
}

export function boolean(key: string, value: unknown): boolean {
    if (value === true || value === "true") return true;
    if (value === false || value === "false") return false;
    throw invalidInput(key, value, "true or false");
}
