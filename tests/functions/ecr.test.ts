// The ECR emptying core against aws-sdk-client-mock: pages, 100-id batches, tags, per-image failures, gone repos.
import * as assert from "node:assert/strict";
import { BatchDeleteImageCommand, ECR, ECRClient, ListImagesCommand } from "@aws-sdk/client-ecr";
import type { AwsClientStub } from "aws-sdk-client-mock";
import { DELETE_BATCH_SIZE, emptyRepository } from "../../functions/core/ecr/empty";
import { ErrorNames } from "../../functions/core/shared/errors";
import { awsError, useClientMock } from "../helpers";

const digest = (i: number) => `sha256:${i.toString(16).padStart(64, "0")}`;
const noWait = { backoffMs: () => 0 };

/** A fake repository: ListImages pages over what is left, BatchDeleteImage removes what it is given. */
function fakeRepository(
    stub: AwsClientStub<ECRClient>,
    entries: { imageDigest: string; imageTag?: string }[],
    pageSize = 1000,
) {
    let left = [...entries];
    const listInputs: unknown[] = [];
    stub.on(ListImagesCommand).callsFake((input) => {
        listInputs.push(JSON.parse(JSON.stringify(input)));
        const start = input.nextToken ? Number(input.nextToken) : 0;
        const page = left.slice(start, start + Math.min(pageSize, input.maxResults ?? 100));
        const next = start + page.length < left.length ? String(start + page.length) : undefined;
        return { imageIds: page, nextToken: next };
    });
    stub.on(BatchDeleteImageCommand).callsFake((input) => {
        const doomed = new Set(input.imageIds.map((i: { imageDigest: string }) => i.imageDigest));
        const deleted = left.filter((e) => doomed.has(e.imageDigest));
        left = left.filter((e) => !doomed.has(e.imageDigest));
        return { imageIds: deleted, failures: [] };
    });
    return { listInputs, left: () => left };
}

describe("emptyRepository", () => {
    const ecr = useClientMock(ECRClient);

    it("lists every page at 1000 per page and deletes in batches of at most 100", async () => {
        const entries = Array.from({ length: 2345 }, (_, i) => ({
            imageDigest: digest(i),
            imageTag: `t${i}`,
        }));
        const repo = fakeRepository(ecr(), entries);
        const result = await emptyRepository(
            new ECR({}),
            { repositoryName: "web", registryId: "111122223333" },
            undefined,
            noWait,
        );
        assert.deepEqual(result, {
            repositoryName: "web",
            deleted: 2345,
            alreadyGone: 0,
            repositoryMissing: false,
        });
        assert.deepEqual(repo.left(), []);
        assert.deepEqual(repo.listInputs.slice(0, 3), [
            { repositoryName: "web", registryId: "111122223333", maxResults: 1000 },
            { repositoryName: "web", registryId: "111122223333", maxResults: 1000, nextToken: "1000" },
            { repositoryName: "web", registryId: "111122223333", maxResults: 1000, nextToken: "2000" },
        ]);
        const batches = ecr()
            .commandCalls(BatchDeleteImageCommand)
            .map((c) => c.args[0].input.imageIds?.length ?? 0);
        assert.equal(batches.length, Math.ceil(2345 / DELETE_BATCH_SIZE));
        assert.ok(
            batches.every((n) => n <= 100),
            `batch sizes ${batches}`,
        );
        assert.equal(ecr().commandCalls(BatchDeleteImageCommand)[0].args[0].input.registryId, "111122223333");
    });

    it("deletes a digest with several tags once", async () => {
        const entries = [
            { imageDigest: digest(1), imageTag: "latest" },
            { imageDigest: digest(1), imageTag: "v1" },
            { imageDigest: digest(1), imageTag: "stable" },
            { imageDigest: digest(2) },
        ];
        fakeRepository(ecr(), entries);
        const result = await emptyRepository(new ECR({}), { repositoryName: "web" }, undefined, noWait);
        assert.equal(result.deleted, 2);
        assert.deepEqual(ecr().commandCalls(BatchDeleteImageCommand)[0].args[0].input, {
            repositoryName: "web",
            imageIds: [{ imageDigest: digest(1) }, { imageDigest: digest(2) }],
        });
    });

    it("retries per-image failures in the next round, after a backoff, and counts ImageNotFound as done", async () => {
        // As ECR lists them: the image that failed is still there in the second round.
        ecr()
            .on(ListImagesCommand)
            .resolvesOnce({
                imageIds: [
                    { imageDigest: digest(1) },
                    { imageDigest: digest(2) },
                    { imageDigest: digest(3) },
                ],
            })
            .resolvesOnce({ imageIds: [{ imageDigest: digest(2) }] })
            .resolves({ imageIds: [] });
        ecr()
            .on(BatchDeleteImageCommand)
            .resolvesOnce({
                imageIds: [{ imageDigest: digest(1) }],
                failures: [
                    {
                        imageId: { imageDigest: digest(2) },
                        failureCode: "ImageReferencedByManifestList",
                        failureReason: "in use",
                    },
                    {
                        imageId: { imageDigest: digest(3) },
                        failureCode: "ImageNotFound",
                        failureReason: "gone",
                    },
                ],
            })
            .resolves({ imageIds: [{ imageDigest: digest(2) }], failures: [] });
        const waits: number[] = [];
        const result = await emptyRepository(new ECR({}), { repositoryName: "web" }, undefined, {
            backoffMs: (n) => {
                waits.push(n);
                return 0;
            },
        });
        assert.deepEqual(result, {
            repositoryName: "web",
            deleted: 2,
            alreadyGone: 1,
            repositoryMissing: false,
        });
        assert.deepEqual(ecr().commandCalls(BatchDeleteImageCommand)[1].args[0].input.imageIds, [
            { imageDigest: digest(2) },
        ]);
        assert.deepEqual(waits, [1], "one backoff, before the round that retries the failure");
    });

    it("fails naming the repository when an image keeps failing", async () => {
        ecr()
            .on(ListImagesCommand)
            .resolves({ imageIds: [{ imageDigest: digest(7) }] });
        ecr()
            .on(BatchDeleteImageCommand)
            .resolves({
                failures: [
                    {
                        imageId: { imageDigest: digest(7) },
                        failureCode: "KmsError",
                        failureReason: "key disabled",
                    },
                ],
            });
        await assert.rejects(
            emptyRepository(new ECR({}), { repositoryName: "web" }, undefined, {
                attempts: 3,
                backoffMs: () => 0,
            }),
            {
                name: ErrorNames.emptyRepositoryFailed,
                message: `web: 1 images could not be deleted after 3 attempts: ${digest(7)}: KmsError: key disabled`,
            },
        );
        assert.equal(ecr().commandCalls(BatchDeleteImageCommand).length, 3);
    });

    it("counts a repository that is already gone as success", async () => {
        ecr()
            .on(ListImagesCommand)
            .rejects(
                awsError("RepositoryNotFoundException", "The repository with name 'web' does not exist"),
            );
        assert.deepEqual(await emptyRepository(new ECR({}), { repositoryName: "web" }), {
            repositoryName: "web",
            deleted: 0,
            alreadyGone: 0,
            repositoryMissing: true,
        });
    });

    it("surfaces any other error with the repository name", async () => {
        ecr()
            .on(ListImagesCommand)
            .rejects(awsError("AccessDeniedException", "not authorized to perform ecr:ListImages"));
        await assert.rejects(emptyRepository(new ECR({}), { repositoryName: "web" }), {
            name: ErrorNames.emptyRepositoryFailed,
            message:
                "web: ListImages failed: AccessDeniedException: not authorized to perform ecr:ListImages",
        });
    });

    it("gives up, naming the repository, when images keep being pushed", async () => {
        let n = 0;
        ecr()
            .on(ListImagesCommand)
            .callsFake(() => ({ imageIds: [{ imageDigest: digest(n++) }] }));
        ecr()
            .on(BatchDeleteImageCommand)
            .callsFake((input) => ({ imageIds: input.imageIds, failures: [] }));
        await assert.rejects(
            emptyRepository(new ECR({}), { repositoryName: "busy" }, undefined, {
                attempts: 2,
                backoffMs: () => 0,
            }),
            {
                message: "busy: images keep appearing after 2 rounds; is something still pushing?",
            },
        );
    });
});
