// Empties an ECR repository: every page of ListImages, each digest once, BatchDeleteImage 100 at a time. Takes its client.
import {
    BatchDeleteImageCommand,
    type ECRClient,
    type ImageIdentifier,
    paginateListImages,
} from "@aws-sdk/client-ecr";
import { errorMessage, errorName, JanitorError } from "./errors";
import { type Log, silentLog } from "./log";
import { sleep } from "./time";

export interface RepositoryRef {
    repositoryName: string;
    /** The registry (account) that owns the repository; the caller's own when omitted. */
    registryId?: string;
}

export interface EmptyResult {
    repositoryName: string;
    /** Image digests deleted now. */
    deleted: number;
    /** Digests someone else deleted first (ImageNotFound): done all the same. */
    alreadyGone: number;
    /** The repository itself was already gone: nothing to empty. */
    repositoryMissing: boolean;
}

export interface EmptyOptions {
    /** How often a digest that failed is tried again, and how often the repository is re-listed. Defaults to 5. */
    attempts?: number;
    /** Wait before retry n (1-based), in milliseconds. Defaults to 200 ms × 2^(n-1). */
    backoffMs?: (attempt: number) => number;
}

export const LIST_PAGE_SIZE = 1000;
export const DELETE_BATCH_SIZE = 100;

class RepositoryGone extends Error {}

export const EMPTY_FAILED = "ImageJanitor.EmptyRepositoryFailed";

const failed = (message: string) => new JanitorError(EMPTY_FAILED, message);

async function call<T>(repositoryName: string, action: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        if (errorName(err) === "RepositoryNotFoundException") throw new RepositoryGone();
        throw failed(`${repositoryName}: ${action} failed: ${errorName(err)}: ${errorMessage(err)}`);
    }
}

/** Every distinct digest in the repository: ListImages lists one entry per tag. */
async function listDigests(ecr: ECRClient, repo: RepositoryRef): Promise<string[]> {
    const digests = new Set<string>();
    await call(repo.repositoryName, "ListImages", async () => {
        for await (const page of paginateListImages({ client: ecr, pageSize: LIST_PAGE_SIZE }, { ...repo })) {
            for (const id of page.imageIds ?? []) if (id.imageDigest) digests.add(id.imageDigest);
        }
    });
    return [...digests];
}

/**
 * Deletes every image in the repository. A missing repository counts as success. Per-image failures are retried
 * (an index's children, for example, can be deleted only after the index), then reported with the repository name.
 */
export async function emptyRepository(
    ecr: ECRClient,
    repo: RepositoryRef,
    log: Log = silentLog,
    opts: EmptyOptions = {},
): Promise<EmptyResult> {
    const { attempts = 5, backoffMs = (n: number) => 200 * 2 ** (n - 1) } = opts;
    const result: EmptyResult = {
        repositoryName: repo.repositoryName,
        deleted: 0,
        alreadyGone: 0,
        repositoryMissing: false,
    };
    const target = repo.registryId
        ? { repositoryName: repo.repositoryName, registryId: repo.registryId }
        : { repositoryName: repo.repositoryName };
    try {
        for (let round = 1; ; round++) {
            let pending = await listDigests(ecr, target);
            if (pending.length === 0) break;
            if (round > attempts) {
                // Images keep appearing: something is still pushing, and emptying would never end.
                throw failed(
                    `${repo.repositoryName}: images keep appearing after ${attempts} rounds; is something still pushing?`,
                );
            }
            let failures: string[] = [];
            for (let attempt = 1; pending.length > 0 && attempt <= attempts; attempt++) {
                if (attempt > 1) await sleep(backoffMs(attempt - 1));
                const retry: string[] = [];
                failures = [];
                for (let i = 0; i < pending.length; i += DELETE_BATCH_SIZE) {
                    const imageIds: ImageIdentifier[] = pending
                        .slice(i, i + DELETE_BATCH_SIZE)
                        .map((imageDigest) => ({ imageDigest }));
                    const res = await call(repo.repositoryName, "BatchDeleteImage", () =>
                        ecr.send(new BatchDeleteImageCommand({ ...target, imageIds })),
                    );
                    // Every id sent is either deleted or listed in failures (moto omits untagged ones from imageIds).
                    result.deleted += imageIds.length - (res.failures ?? []).length;
                    for (const f of res.failures ?? []) {
                        const digest = f.imageId?.imageDigest ?? "";
                        if (f.failureCode === "ImageNotFound") result.alreadyGone += 1;
                        else {
                            retry.push(digest);
                            failures.push(`${digest}: ${f.failureCode}: ${f.failureReason}`);
                        }
                    }
                }
                pending = retry;
            }
            if (pending.length > 0) {
                throw failed(
                    `${repo.repositoryName}: ${pending.length} images could not be deleted after ${attempts} attempts: ${failures.slice(0, 3).join("; ")}`,
                );
            }
            // The loop re-lists: images pushed meanwhile would still block the repository's deletion.
        }
    } catch (err) {
        if (!(err instanceof RepositoryGone)) throw err;
        result.repositoryMissing = true;
        log({ message: "repository already gone", repositoryName: repo.repositoryName });
        return result;
    }
    log({ message: "emptied repository", ...result });
    return result;
}
