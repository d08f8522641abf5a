// EventBridge Scheduler's schedule expressions, checked as the Scheduler user guide ("Schedule types") defines
// them, before anything is deployed: rate(value unit) and cron(minutes hours day-of-month month day-of-week year).
import { invalidInput } from "../functions/core/shared/errors";

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
/** A value the Scheduler calls "a positive integer"; past a year a cleanup schedule is a mistake, not a plan. */
const RATE_MAX: Record<string, number> = { minute: 525_600, hour: 8_760, day: 365 };

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface Field {
    name: string;
    min: number;
    max: number;
    /** Names that stand for numbers: JAN is 1, SUN is 1. */
    names?: string[];
    /** What this field takes beyond values, ranges, steps and `*`. */
    special?: RegExp;
}

const FIELDS: Field[] = [
    { name: "minutes", min: 0, max: 59 },
    { name: "hours", min: 0, max: 23 },
    // ? (any), L (last day), LW (last weekday), 15W (weekday nearest the 15th)
    { name: "day-of-month", min: 1, max: 31, special: /^(\?|L|LW|([1-9]|[12]\d|3[01])W)$/ },
    { name: "month", min: 1, max: 12, names: MONTHS },
    // ? (any), L (last day of the week), 5L (last Thursday), 3#2 (the second Tuesday)
    { name: "day-of-week", min: 1, max: 7, names: DAYS, special: /^(\?|L|[1-7]L|[1-7]#[1-5])$/ },
    { name: "year", min: 1970, max: 2199 },
];

function value(field: Field, text: string): number | undefined {
    const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + 1 : /^\d+$/.test(text) ? Number(text) : Number.NaN;
    return n >= field.min && n <= field.max ? n : undefined;
}

/** One item of a field's comma list: `*`, a value, a range `a-b`, either with a step `/n`, or the field's specials. */
function validItem(field: Field, item: string): boolean {
    if (field.special?.test(item.toUpperCase())) return true;
    const [base, step, ...rest] = item.split("/");
    if (rest.length > 0) return false;
    if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1 && Number(step) <= field.max))
        return false;
    if (base === "*") return true;
    const [from, to, ...more] = base.split("-");
    if (more.length > 0 || value(field, from) === undefined) return false;
    return to === undefined || (value(field, to) ?? -1) >= (value(field, from) ?? 0);
}

const ALLOWED =
    'rate(N minute|minutes|hour|hours|day|days) or cron(minutes hours day-of-month month day-of-week year), e.g. "rate(1 hour)"';

/** A Scheduler schedule expression, or an error naming the key, the value and what is wrong with it. */
export function validSchedule(expression: string, key = "schedule"): string {
    const rate = RATE.exec(expression);
    if (rate) {
        const n = Number(rate[1]);
        const unit = rate[2].replace(/s$/, "");
        if (n < 1 || (n === 1) !== !rate[2].endsWith("s"))
            throw invalidInput(
                key,
                expression,
                `${ALLOWED}; the value is 1 or more, with the singular unit only for 1`,
            );
        if (n > RATE_MAX[unit])
            throw invalidInput(key, expression, `${ALLOWED}; at most a year (${RATE_MAX[unit]} ${unit}s)`);
        return expression;
    }
    const cron = /^cron\((.*)\)$/.exec(expression);
    if (!cron) throw invalidInput(key, expression, ALLOWED);
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== FIELDS.length)
        throw invalidInput(key, expression, `${ALLOWED}; cron takes six fields`);
    FIELDS.forEach((field, i) => {
        if (!fields[i].split(",").every((item) => validItem(field, item)))
            throw invalidInput(
                key,
                expression,
                `${ALLOWED}; its ${field.name} field ${JSON.stringify(fields[i])} is not ${field.min}-${field.max}${field.names ? ` or ${field.names[0]}-${field.names[field.names.length - 1]}` : ""} with , - * / ${field.special ? "and its specials" : ""}`.trim(),
            );
    });
    // The user guide: you can't use * in both day fields; exactly one of them is ?.
    if ((fields[2] === "?") === (fields[4] === "?"))
        throw invalidInput(key, expression, `${ALLOWED}; exactly one of day-of-month or day-of-week is ?`);
    return expression;
}
