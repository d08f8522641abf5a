// What a local run costs in AWS terms, read off aws-local-stepfunctions' event log: the history events Step
// Functions would record, state transitions, and the largest state payload.

/** The fields of aws-local-stepfunctions' event log this file reads. */
export interface LocalEvent {
    type: string;
    state?: { name: string; type: string; input?: unknown; output?: unknown };
    index?: number;
    input?: unknown;
    output?: unknown;
}

const PREFIX: Record<string, string> = {
    Task: "TaskState",
    Pass: "PassState",
    Choice: "ChoiceState",
    Map: "MapState",
    Parallel: "ParallelState",
    Wait: "WaitState",
    Succeed: "SucceedState",
    Fail: "FailState",
};

/** States whose history wraps their iterations or branches in …StateStarted and …StateSucceeded/Failed. */
const AROUND_BRANCHES: ReadonlySet<string> = new Set(["Map", "Parallel"]);

export interface TaskKinds {
    /** Task state names whose resource is a Lambda function ARN (history says LambdaFunction…, else Task…). */
    lambdaStates: ReadonlySet<string>;
}

/**
 * The history events AWS records for the same execution, by type. The local log has no events for the call a
 * Task makes, so each attempt gets Scheduled and Started, and Succeeded or Failed; a Map gets MapStateStarted
 * and MapStateSucceeded around its iterations, a Parallel ParallelStateStarted and ParallelStateSucceeded around
 * its branches (AWS records no event per branch); a caught failure exits its Task without a Succeeded event.
 */
export function awsHistoryEvents(events: readonly LocalEvent[], kinds: TaskKinds): string[] {
    const out: string[] = [];
    const caught = new Set<string>();
    for (const e of events) {
        const s = e.state;
        const key = s ? `${s.name}#${e.index ?? ""}` : "";
        const call = s && kinds.lambdaStates.has(s.name) ? "LambdaFunction" : "Task";
        switch (e.type) {
            case "ExecutionStarted":
            case "ExecutionSucceeded":
            case "ExecutionFailed":
            case "ExecutionAborted":
            case "ExecutionTimedOut":
            case "MapIterationStarted":
            case "MapIterationSucceeded":
            case "MapIterationFailed":
                out.push(e.type);
                break;
            case "StateEntered":
                if (!s) break;
                out.push(`${PREFIX[s.type] ?? s.type}Entered`);
                if (s.type === "Task") out.push(`${call}Scheduled`, `${call}Started`);
                if (AROUND_BRANCHES.has(s.type)) out.push(`${PREFIX[s.type]}Started`);
                break;
            case "StateFailed":
                if (s?.type === "Task") out.push(`${call}Failed`);
                if (s && AROUND_BRANCHES.has(s.type)) out.push(`${PREFIX[s.type]}Failed`);
                break;
            case "StateRetried":
                if (s?.type === "Task") out.push(`${call}Scheduled`, `${call}Started`);
                break;
            case "StateCaught":
                caught.add(key);
                break;
            case "StateExited":
                if (!s) break;
                if (s.type === "Task" && !caught.delete(key)) out.push(`${call}Succeeded`);
                if (AROUND_BRANCHES.has(s.type)) out.push(`${PREFIX[s.type]}Succeeded`);
                out.push(`${PREFIX[s.type] ?? s.type}Exited`);
                break;
        }
    }
    return out;
}

/** Step Functions bills each state entered, and each retry, as a transition. */
export function stateTransitions(events: readonly LocalEvent[]): number {
    return events.filter((e) => e.type === "StateEntered" || e.type === "StateRetried").length;
}

const bytes = (v: unknown) => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v), "utf8"));

/** The largest state input or output, and execution input or output, in UTF-8 bytes. */
export function maxPayloadBytes(events: readonly LocalEvent[]): number {
    let max = 0;
    for (const e of events) {
        if (e.type === "StateEntered") max = Math.max(max, bytes(e.state?.input));
        else if (e.type === "StateExited") max = Math.max(max, bytes(e.state?.output));
        else if (e.type === "ExecutionStarted") max = Math.max(max, bytes(e.input));
        else if (e.type === "ExecutionSucceeded") max = Math.max(max, bytes(e.output));
    }
    return max;
}

/** Step Functions' quotas for standard workflows (AWS docs: Step Functions service quotas): 256 KiB per state input or output, 25,000 history events per execution. */
export const SFN_LIMITS = { payloadBytes: 256 * 1024, historyEvents: 25_000 } as const;
