// The AWS-equivalent history derived from aws-local-stepfunctions' log, checked against histories AWS recorded,
// and the runner's stats for the deployed definition, counted from the run itself.

import * as assert from "node:assert/strict";
import { EC2Client } from "@aws-sdk/client-ec2";
import { StateMachine } from "aws-local-stepfunctions";
import { settingsWith } from "../../functions/core/ami/settings";
import { runCleanup } from "../../runner/run";
import { awsHistoryEvents, type LocalEvent, maxPayloadBytes, stateTransitions } from "../../runner/stats";
import { installFakeEc2, oldImages } from "../fakeEc2";
import { mockedClients, useClientMock, useLookupMocks } from "../helpers";

const FN = "arn:aws:lambda:us-east-1:111111111111:function:f";
/** What AWS records for a Lambda task's one failed attempt, from the state's entry. */
const FAILED_ATTEMPT = [
    "TaskStateEntered",
    "LambdaFunctionScheduled",
    "LambdaFunctionStarted",
    "LambdaFunctionFailed",
];
const raise = () => {
    throw Object.assign(new Error("Some exception was raised."), { name: "Exception" });
};

/**
 * Event types in the order GetExecutionHistory returned them. The first two and the Map's shape were recorded
 * against AWS (LocalStack's AWS-validated snapshots of a failing Lambda task, caught and uncaught, and of a Map
 * over Choice and Pass states); the retry follows the same per-attempt events; the Parallel's types are those
 * HistoryEvent's reference lists (ParallelStateEntered, …Started, …Succeeded, …Exited), around its branches'.
 */
const KNOWN: {
    name: string;
    definition: object;
    input: unknown;
    handler: (attempt: number) => unknown;
    aws: string[];
}[] = [
    {
        name: "a Lambda task that fails, uncaught",
        definition: { StartAt: "Start", States: { Start: { Type: "Task", Resource: FN, End: true } } },
        input: {},
        handler: raise,
        aws: ["ExecutionStarted", ...FAILED_ATTEMPT, "ExecutionFailed"],
    },
    {
        name: "a Lambda task that fails, caught into a Pass state",
        definition: {
            StartAt: "Start",
            States: {
                Start: {
                    Type: "Task",
                    Resource: FN,
                    Catch: [
                        { ErrorEquals: ["States.ALL"], ResultPath: "$.task_failed_error", Next: "Handler" },
                    ],
                    End: true,
                },
                Handler: { Type: "Pass", End: true },
            },
        },
        input: {},
        handler: raise,
        aws: [
            "ExecutionStarted",
            ...FAILED_ATTEMPT,
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded",
        ],
    },
    {
        name: "a Map over two items, each a Choice then a Pass",
        definition: {
            StartAt: "StartState",
            States: {
                StartState: { Type: "Pass", Result: { arr: [1, 2] }, Next: "MapState" },
                MapState: {
                    Type: "Map",
                    ItemsPath: "$.arr",
                    MaxConcurrency: 1,
                    ItemProcessor: {
                        ProcessorConfig: { Mode: "INLINE" },
                        StartAt: "Equals3",
                        States: {
                            Equals3: {
                                Type: "Choice",
                                Choices: [{ Variable: "$", NumericEquals: 3, Next: "Pass" }],
                                Default: "Pass",
                            },
                            Pass: { Type: "Pass", End: true },
                        },
                    },
                    End: true,
                },
            },
        },
        input: {},
        handler: () => ({}),
        aws: [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapStateEntered",
            "MapStateStarted",
            ...[0, 1].flatMap(() => [
                "MapIterationStarted",
                "ChoiceStateEntered",
                "ChoiceStateExited",
                "PassStateEntered",
                "PassStateExited",
                "MapIterationSucceeded",
            ]),
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded",
        ],
    },
    {
        name: "a Parallel of two branches, a Pass and a Choice then a Pass",
        definition: {
            StartAt: "Both",
            States: {
                Both: {
                    Type: "Parallel",
                    Branches: [
                        { StartAt: "Left", States: { Left: { Type: "Pass", End: true } } },
                        {
                            StartAt: "Check",
                            States: {
                                Check: {
                                    Type: "Choice",
                                    Choices: [{ Variable: "$.go", IsPresent: true, Next: "Right" }],
                                    Default: "Right",
                                },
                                Right: { Type: "Pass", End: true },
                            },
                        },
                    ],
                    OutputPath: "$[0]",
                    End: true,
                },
            },
        },
        input: {},
        handler: () => ({}),
        aws: [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded",
        ],
    },
    {
        name: "a Lambda task retried once",
        definition: {
            StartAt: "Start",
            States: {
                Start: {
                    Type: "Task",
                    Resource: FN,
                    Retry: [{ ErrorEquals: ["Busy"], MaxAttempts: 2 }],
                    End: true,
                },
            },
        },
        input: {},
        handler: (attempt) => {
            if (attempt === 1) throw Object.assign(new Error("busy"), { name: "Busy" });
            return { ok: true };
        },
        aws: [
            "ExecutionStarted",
            ...FAILED_ATTEMPT,
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded",
        ],
    },
];

async function localEvents(definition: object, input: unknown, handler: (attempt: number) => unknown) {
    let attempt = 0;
    const machine = new StateMachine(definition as never);
    const execution = machine.run(input as never, {
        overrides: {
            taskResourceLocalHandlers: { Start: async () => handler(++attempt) as never },
            retryIntervalOverrides: { Start: 0 },
        },
    });
    const events: LocalEvent[] = [];
    const collecting = (async () => {
        for await (const e of execution.eventLogs) events.push(e as LocalEvent);
    })();
    await execution.result.catch(() => undefined);
    await collecting;
    return events;
}

describe("run stats", () => {
    describe("AWS history derived from the local event log", () => {
        for (const known of KNOWN) {
            it(`matches the history AWS records for ${known.name}`, async () => {
                const events = await localEvents(known.definition, known.input, known.handler);
                // The same events; the local engine may start the next iteration before logging the last one's end.
                const derived = awsHistoryEvents(events, { lambdaStates: new Set(["Start"]) });
                assert.deepEqual([...derived].sort(), [...known.aws].sort());
                assert.equal(derived.length, known.aws.length);
                if (!/"(Map|Parallel)"/.test(JSON.stringify(known.definition)))
                    assert.deepEqual(derived, known.aws);
            });
        }

        it("names a non-Lambda task's events Task…, as for Step Functions' own API", async () => {
            const events = await localEvents(KNOWN[4].definition, {}, KNOWN[4].handler);
            assert.deepEqual(awsHistoryEvents(events, { lambdaStates: new Set() }).slice(2, 8), [
                "TaskScheduled",
                "TaskStarted",
                "TaskFailed",
                "TaskScheduled",
                "TaskStarted",
                "TaskSucceeded",
            ]);
        });

        it("counts transitions per state entered and per retry, and the largest payload in bytes", async () => {
            const events = await localEvents(KNOWN[4].definition, { text: "é" }, KNOWN[4].handler);
            assert.equal(stateTransitions(events), 2);
            assert.equal(maxPayloadBytes(events), Buffer.byteLength('{"text":"é"}'));
        });
    });

    describe("the deployed definition", () => {
        const ec2 = useClientMock(EC2Client);
        useLookupMocks(ec2);
        useLookupMocks(ec2);

        it("costs 14 history events, 3 transitions and 2 invocations per batch of 100, plus a fixed 54/17/1", async () => {
            const fake = installFakeEc2(ec2(), oldImages(250));
            // One batch at a time: full batches of 100 (more at once cut a page into evenly sized ones).
            const s = await runCleanup({
                clients: mockedClients(),
                retryIntervalMs: 0,
                settings: settingsWith({ validHours: 1, maxConcurrency: 1 }),
            });
            assert.equal(s.deleted.length, 250);
            assert.deepEqual(fake.deregistered.length, 250);
            const { maxStatePayloadBytes, ec2Calls, ...counts } = s.stats;
            assert.deepEqual(counts, {
                executions: 1,
                historyEvents: 54 + 2 * 14,
                lambdaInvocations: 1 + 3 * 2,
                stateTransitions: 17 + 2 * 3,
            });
            assert.ok(maxStatePayloadBytes > 250 * 60 && maxStatePayloadBytes < 64 * 1024);
        });
    });
});
