// Structured logging: one JSON object per decision, written through a sink the caller chooses.

export type LogFields = Record<string, unknown> & { message: string };
export type Log = (fields: LogFields) => void;

/** Lambda's JSON log format turns each console.info line into a structured record. */
export const consoleLog: Log = (fields) => console.info(JSON.stringify(fields));

/** Keeps stdout clean for machine-readable output (the local runner's --json). */
export const stderrLog: Log = (fields) => process.stderr.write(`${JSON.stringify(fields)}\n`);

export const silentLog: Log = () => {};
