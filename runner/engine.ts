// Runs an ASL definition in-process with aws-local-stepfunctions the way Step Functions would: Task states bound to
// local handlers, Step Functions' own API (ListExecutions, StartExecution) answered locally so executions chain and
// see each other, and what each execution would cost in AWS counted off its event log.
import type { EC2Client } from "@aws-sdk/client-ec2";
import { StateMachine } from "aws-local-stepfunctions";
import { type AslDefinition, SFN_LIST_EXECUTIONS, SFN_START_EXECUTION } from "../components/definition";
import { awsHistoryEvents, type LocalEvent, maxPayloadBytes, stateTransitions } from "./stats";

export const LOCAL_STATE_MACHINE_ARN =
    "arn:aws:states:us-east-1:123456789012:stateMachine:image-janitor-local";

export interface RunStats {
    executions: number;
    /** The most history events any one execution would record in AWS. */
    historyEvents: number;
    maxStatePayloadBytes: number;
    lambdaInvocations: number;
    stateTransitions: number;
    ec2Calls: Record<string, number>;
}

export type TaskHandler = (input: unknown) => Promise<unknown>;

export interface EngineOptions {
    definition: AslDefinition;
    /** Lambda task state name → the handler its function runs. */
    lambdas: Record<string, TaskHandler>;
    /** Its requests are counted by action, SDK retries included. */
    ec2?: EC2Client;
    /** Replaces every state-level Retry interval (milliseconds). */
    retryIntervalMs?: number;
    /** Aborting stops the running execution, as StopExecution would; the run then rejects. */
    signal?: AbortSignal;
    /** An execution failing with this error reports its JSON cause as its output (a run with failed AMIs). */
    reportedFailure?: string;
}

export interface EngineResult {
    /** Each execution's output, in the order they ran. */
    outputs: unknown[];
    stats: RunStats;
}

/** Executions of the local state machine that are running now, as ListExecutions would report them. */
const running = new Set<string>();
let executionsStarted = 0;
const executionArn = (n: number | string) =>
    `${LOCAL_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")}:local-${n}`;

/** Counts every EC2 request attempt by action, including the SDK's own retries. */
function countEc2Calls(ec2: EC2Client, counts: Record<string, number>): () => void {
    const name = `image-janitor-count-${Math.random().toString(36).slice(2)}`;
    ec2.middlewareStack.add(
        (next, context) => async (args) => {
            const action = String(context.commandName ?? "Unknown").replace(/Command$/, "");
            counts[action] = (counts[action] ?? 0) + 1;
            return next(args);
        },
        { step: "deserialize", name },
    );
    return () => ec2.middlewareStack.remove(name);
}

/** Task state names by resource, Map iterations and Parallel branches included. */
function tasksOf(definition: AslDefinition): Map<string, string> {
    const tasks = new Map<string, string>();
    const visit = (states: Record<string, Record<string, unknown>>) => {
        for (const [name, state] of Object.entries(states)) {
            if (state.Type === "Task") tasks.set(name, String(state.Resource));
            const inner = (state.ItemProcessor ?? state.Iterator) as { States?: typeof states } | undefined;
            if (inner?.States) visit(inner.States);
            for (const branch of (state.Branches ?? []) as { States: typeof states }[]) visit(branch.States);
        }
    };
    visit(definition.States as Record<string, Record<string, unknown>>);
    return tasks;
}

export async function runExecutions(opts: EngineOptions): Promise<EngineResult> {
    const stats: RunStats = {
        executions: 0,
        historyEvents: 0,
        maxStatePayloadBytes: 0,
        lambdaInvocations: 0,
        stateTransitions: 0,
        ec2Calls: {},
    };
    const tasks = tasksOf(opts.definition);
    const lambdaStates = new Set(
        [...tasks].filter(([, r]) => r.startsWith("arn:aws:lambda:")).map(([n]) => n),
    );
    const queue: unknown[] = [{}];

    const handlers: Record<string, TaskHandler> = {};
    for (const [name, resource] of tasks) {
        if (resource === SFN_LIST_EXECUTIONS) {
            handlers[name] = async () => ({
                Executions: [...running].map((arn) => ({ executionArn: arn, status: "RUNNING" })),
            });
        } else if (resource === SFN_START_EXECUTION) {
            handlers[name] = async (input) => {
                queue.push((input as { Input: unknown }).Input);
                return { ExecutionArn: executionArn(`next-${queue.length}`) };
            };
        } else if (opts.lambdas[name]) {
            const fn = opts.lambdas[name];
            handlers[name] = async (input) => {
                // The local engine lets an aborted execution's Map go on; a stopped execution invokes nothing more.
                if (opts.signal?.aborted) throw new Error("the run was stopped");
                stats.lambdaInvocations += 1;
                return fn(input);
            };
        }
    }
    const retryIntervalOverrides =
        opts.retryIntervalMs === undefined
            ? undefined
            : Object.fromEntries([...tasks.keys()].map((s) => [s, opts.retryIntervalMs as number]));
    const machine = new StateMachine(opts.definition as never);
    const stopCounting = opts.ec2 ? countEc2Calls(opts.ec2, stats.ec2Calls) : () => {};
    const outputs: unknown[] = [];

    try {
        for (let input = queue.shift(); input !== undefined; input = queue.shift()) {
            stats.executions += 1;
            const arn = executionArn(++executionsStarted);
            running.add(arn);
            const execution = machine.run(input as never, {
                overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
                context: {
                    Execution: { Id: arn, Name: arn.split(":").pop() },
                    StateMachine: { Id: LOCAL_STATE_MACHINE_ARN, Name: "image-janitor-local" },
                } as never,
            });
            const abort = () => execution.abort();
            opts.signal?.addEventListener("abort", abort);
            if (opts.signal?.aborted) abort();
            const events: LocalEvent[] = [];
            const collecting = (async () => {
                for await (const event of execution.eventLogs) events.push(event as LocalEvent);
            })();
            try {
                outputs.push(await execution.result);
            } catch (err) {
                const cause = (err as { cause?: { name?: string; message?: string } }).cause;
                if (!opts.reportedFailure || cause?.name !== opts.reportedFailure || !cause.message)
                    throw err;
                outputs.push(JSON.parse(cause.message));
            } finally {
                opts.signal?.removeEventListener("abort", abort);
                await collecting.catch(() => undefined);
                running.delete(arn);
            }
            stats.historyEvents = Math.max(
                stats.historyEvents,
                awsHistoryEvents(events, { lambdaStates }).length,
            );
            stats.maxStatePayloadBytes = Math.max(stats.maxStatePayloadBytes, maxPayloadBytes(events));
            stats.stateTransitions += stateTransitions(events);
        }
    } finally {
        stopCounting();
    }
    return { outputs, stats };
}
