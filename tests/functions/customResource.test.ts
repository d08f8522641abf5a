// The CloudFormation custom resource invoked as CloudFormation would: events in, a PUT to the ResponseURL out.
import * as assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { CreateRepositoryCommand, ECR, ECRClient, ListImagesCommand } from "@aws-sdk/client-ecr";
import { inlineHandlerCode } from "../../components/bundle";
import {
    type CfnEvent,
    handleCfnEvent,
    MAX_BODY_BYTES,
    MAX_REASON_CHARS,
    putResponse,
} from "../../functions/core/ecr/customResource";
import type { LogFields } from "../../functions/core/shared/log";
import { MOTO_REGION, type Moto, motoCredentials, motoEcr, startMoto } from "../../runner/moto";
import { pushTestImages } from "../ecrImages";
import { requireFromString, useClientMock } from "../helpers";
import { type ResponseServer, startResponseServer } from "../https";

type Handler = (event: CfnEvent, context: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

/** Lambda's context, with this much of the invocation left. */
const context = (ms = 900_000) => ({ getRemainingTimeInMillis: () => ms });

function event(
    server: ResponseServer,
    type: CfnEvent["RequestType"],
    props: Record<string, unknown>,
    physicalId?: string,
): CfnEvent {
    const requestId = `req-${type}-${Math.random().toString(16).slice(2)}`;
    return {
        RequestType: type,
        ResponseURL: server.url(requestId),
        StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
        RequestId: requestId,
        LogicalResourceId: "EmptyOnDelete",
        ...(physicalId ? { PhysicalResourceId: physicalId } : {}),
        ResourceProperties: {
            ServiceToken: "arn:aws:lambda:us-east-1:123456789012:function:emptier",
            ...props,
        },
    };
}

describe("CloudFormation custom resource", function () {
    this.timeout(120_000);
    let server: ResponseServer;
    let moto: Moto;
    let ecr: ECR;
    const savedEnv = { ...process.env };
    const handlers: Record<string, Handler> = {};

    /** Invokes a handler and returns the one response CloudFormation received for it. */
    async function invoke(handler: Handler, e: CfnEvent, left?: number) {
        const before = server.received.length;
        await handler(e, context(left));
        assert.equal(server.received.length, before + 1, "exactly one response per event");
        const got = server.received[before];
        assert.equal(got.method, "PUT");
        assert.equal(got.path, new URL(e.ResponseURL).pathname + new URL(e.ResponseURL).search);
        assert.equal(got.contentType, "");
        assert.ok(Buffer.byteLength(got.body) < MAX_BODY_BYTES);
        return JSON.parse(got.body);
    }

    before(async () => {
        server = await startResponseServer();
        moto = await startMoto();
        ecr = motoEcr(moto.endpoint);
        Object.assign(process.env, {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_REGION: MOTO_REGION,
            AWS_ACCESS_KEY_ID: motoCredentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: motoCredentials.secretAccessKey,
        });
        // The Lambda entry as deployed by Pulumi, and the inline code of the standalone template.
        handlers.entry = require("../../functions/empty-repository-cfn/index").handler;
        handlers.inline = requireFromString(inlineHandlerCode()).handler;
    });
    after(async () => {
        process.env = savedEnv;
        await server?.close();
        await moto?.stop();
    });

    for (const which of ["entry", "inline"]) {
        describe(`${which === "entry" ? "Lambda entry" : "standalone template's inline code"}`, () => {
            const repo = `cfn-${which}`;

            it("Create answers SUCCESS with a stable physical id and deletes nothing", async () => {
                await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
                // 30 images in 40 entries: a third untagged, a third with one tag, a third with two
                assert.equal(await pushTestImages(ecr, repo, 30, (n) => n % 3), 40);
                const res = await invoke(handlers[which], event(server, "Create", { RepositoryName: repo }));
                assert.deepEqual(
                    { ...res, RequestId: undefined },
                    {
                        Status: "SUCCESS",
                        PhysicalResourceId: `empty-on-delete:self:${repo}`,
                        StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
                        RequestId: undefined,
                        LogicalResourceId: "EmptyOnDelete",
                        NoEcho: false,
                    },
                );
                assert.equal(
                    ((await ecr.send(new ListImagesCommand({ repositoryName: repo }))).imageIds ?? []).length,
                    40,
                );
            });

            it("Update keeps the id for the same repository, changes it for a new one, and deletes nothing", async () => {
                const id = `empty-on-delete:self:${repo}`;
                const same = await invoke(
                    handlers[which],
                    event(server, "Update", { RepositoryName: repo }, id),
                );
                assert.deepEqual([same.Status, same.PhysicalResourceId], ["SUCCESS", id]);
                const renamed = await invoke(
                    handlers[which],
                    event(server, "Update", { RepositoryName: `${repo}-v2` }, id),
                );
                assert.deepEqual(
                    [renamed.Status, renamed.PhysicalResourceId],
                    ["SUCCESS", `empty-on-delete:self:${repo}-v2`],
                );
                assert.equal(
                    ((await ecr.send(new ListImagesCommand({ repositoryName: repo }))).imageIds ?? []).length,
                    40,
                );
            });

            it("Delete empties the repository and reports how many images it deleted", async () => {
                const res = await invoke(
                    handlers[which],
                    event(server, "Delete", { RepositoryName: repo }, `empty-on-delete:self:${repo}`),
                );
                assert.deepEqual(
                    [res.Status, res.PhysicalResourceId, res.Data],
                    ["SUCCESS", `empty-on-delete:self:${repo}`, { Deleted: 30 }],
                );
                assert.deepEqual(
                    (await ecr.send(new ListImagesCommand({ repositoryName: repo }))).imageIds,
                    [],
                );
            });

            it("answers FAILED, in time, when ECR hangs: before the function's own time runs out", async () => {
                moto.proxy.setFaults((call) => (call.service === "ecr" ? "stall" : undefined), 60_000);
                try {
                    const started = Date.now();
                    // 16 s left: the answer goes out 15 s before the end, after 1 s of emptying.
                    const res = await invoke(
                        handlers[which],
                        event(server, "Delete", { RepositoryName: repo }, `empty-on-delete:self:${repo}`),
                        16_000,
                    );
                    assert.deepEqual(
                        [res.Status, res.Reason],
                        ["FAILED", `Delete of empty-on-delete:self:${repo} did not finish in 1000 ms`],
                    );
                    assert.ok(Date.now() - started < 5_000, `answered after ${Date.now() - started} ms`);
                } finally {
                    moto.proxy.setFaults(undefined);
                }
            });

            it("answers FAILED for a RequestType it does not know", async () => {
                const res = await invoke(
                    handlers[which],
                    event(server, "Replace" as never, { RepositoryName: repo }),
                );
                assert.deepEqual(
                    [res.Status, res.Reason],
                    ["FAILED", 'RequestType must be Create, Update or Delete (got "Replace")'],
                );
            });

            it("Delete of a repository that is already gone answers SUCCESS", async () => {
                const res = await invoke(
                    handlers[which],
                    event(server, "Delete", { RepositoryName: `${repo}-never` }, "empty-on-delete:self:x"),
                );
                assert.deepEqual([res.Status, res.Data], ["SUCCESS", { Deleted: 0 }]);
            });
        });
    }

    describe("failures", () => {
        const mock = useClientMock(ECRClient);

        it("an AWS error answers FAILED with a short reason naming the repository, and keeps the physical id", async () => {
            mock()
                .on(ListImagesCommand)
                .rejects(
                    Object.assign(new Error("User is not authorized to perform: ecr:ListImages"), {
                        name: "AccessDeniedException",
                    }),
                );
            const logs: LogFields[] = [];
            const e = event(server, "Delete", { RepositoryName: "locked" }, "empty-on-delete:self:locked");
            const res = await handleCfnEvent(new ECR({}), e, { log: (f) => logs.push(f) });
            assert.deepEqual(
                [res.Status, res.PhysicalResourceId, res.Reason],
                [
                    "FAILED",
                    "empty-on-delete:self:locked",
                    "locked: ListImages failed: AccessDeniedException: User is not authorized to perform: ecr:ListImages",
                ],
            );
            assert.equal(JSON.parse(server.received[server.received.length - 1].body).Status, "FAILED");
            assert.ok(logs.length >= 2);
            for (const line of logs)
                assert.doesNotMatch(
                    JSON.stringify(line),
                    /X-Amz-Signature|cfn-response/,
                    "ResponseURL is never logged",
                );
        });

        it("a Create without RepositoryName fails naming the key, and its rollback Delete succeeds without touching ECR", async () => {
            const created = await handleCfnEvent(
                new ECR({}),
                event(server, "Create", { RepositoryName: "" }),
            );
            assert.deepEqual(
                [created.Status, created.PhysicalResourceId, created.Reason],
                [
                    "FAILED",
                    "EmptyOnDelete:not-created",
                    'RepositoryName must be an ECR repository name (got "")',
                ],
            );
            const deleted = await handleCfnEvent(
                new ECR({}),
                event(server, "Delete", { RepositoryName: "" }, created.PhysicalResourceId),
            );
            assert.equal(deleted.Status, "SUCCESS");
            assert.equal(mock().calls().length, 0);
        });

        it("cuts a huge reason so the body stays under 4096 bytes", async () => {
            mock()
                .on(ListImagesCommand)
                .rejects(Object.assign(new Error(`"é${"x".repeat(10_000)}`), { name: "InternalError" }));
            const res = await handleCfnEvent(
                new ECR({}),
                event(server, "Delete", { RepositoryName: "big" }, "empty-on-delete:self:big"),
            );
            assert.equal(res.Status, "FAILED");
            assert.match(res.Reason ?? "", /^big: ListImages failed: InternalError: "éx+$/);
            assert.equal(res.Reason?.length, MAX_REASON_CHARS);
            assert.ok(Buffer.byteLength(server.received[server.received.length - 1].body) < MAX_BODY_BYTES);
        });
    });

    it("gives up on a ResponseURL that never answers, each PUT under its deadline, instead of hanging", async () => {
        // Accepts the connection and never says a word: not even the TLS handshake.
        const silent = createServer(() => {});
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        const { port } = silent.address() as AddressInfo;
        const started = Date.now();
        try {
            // Node aborts the request when its AbortSignal.timeout fires.
            await assert.rejects(putResponse(`https://127.0.0.1:${port}/cfn-response/x`, "{}"), {
                name: "AbortError",
            });
            const took = Date.now() - started;
            assert.ok(
                took >= 10_000 && took < 13_000,
                `gave up after ${took} ms: two tries of 5 s and a pause`,
            );
        } finally {
            silent.close();
        }
    });
});
