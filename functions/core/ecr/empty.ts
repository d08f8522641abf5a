// Empties an ECR repository: every page of ListImages, each digest once, BatchDeleteImage 100 at a time. Takes its
// client as a parameter and loads no SDK itself, so the Pulumi program and the dynamic provider can import it.
import type {
    BatchDeleteImageCommandInput,
    BatchDeleteImageCommandOutput,
    ListImagesCommandInput,
    ListImagesCommandOutput,
} from "@aws-sdk/client-ecr";
import {
    ECR_IMAGE_NOT_FOUND,
    ErrorNames,
    errorMessage,
    errorName,
    janitorError,
    REPOSITORY_NOT_FOUND,
} from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { sleep } from "../shared/time";

/** The two ECR calls emptying takes; the SDK's aggregated `ECR` client has both. */
export interface EcrImagesApi {
    listImages(input: ListImagesCommandInput): Promise<ListImagesCommandOutput>;
    batchDeleteImage(input: BatchDeleteImageCommandInput): Promise<BatchDeleteImageCommandOutput>;
}

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

const failed = (message: string) => janitorError(ErrorNames.emptyRepositoryFailed, message);

/** A missing repository passes through as AWS raised it (emptying it is done); anything else names the call. */
async function call<T>(repositoryName: string, action: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        if (errorName(err) === REPOSITORY_NOT_FOUND) throw err;
        throw failed(`${repositoryName}: ${action} failed: ${errorName(err)}: ${errorMessage(err)}`);
    }
}

/** Every distinct digest in the repository: ListImages lists one entry per tag. */
async function listDigests(ecr: EcrImagesApi, repo: RepositoryRef): Promise<string[]> {
    const digests = new Set<string>();
    let nextToken: string | undefined;
    do {
        const page = await call(repo.repositoryName, "ListImages", () =>
            ecr.listImages({ ...repo, maxResults: LIST_PAGE_SIZE, nextToken }),
        );
        for (const id of page.imageIds ?? []) if (id.imageDigest) digests.add(id.imageDigest);
        nextToken = page.nextToken;
    } while (nextToken);
    return [...digests];
}

/** Deletes the digests 100 at a time; returns what failed, and why (ImageNotFound counts as done). */
async function deleteDigests(ecr: EcrImagesApi, repo: RepositoryRef, digests: string[], result: EmptyResult) {
    const failures: string[] = [];
    for (let i = 0; i < digests.length; i += DELETE_BATCH_SIZE) {
        const imageIds = digests.slice(i, i + DELETE_BATCH_SIZE).map((imageDigest) => ({ imageDigest }));
        const res = await call(repo.repositoryName, "BatchDeleteImage", () =>
            ecr.batchDeleteImage({ ...repo, imageIds }),
        );
        // Every id sent is either deleted or listed in failures (moto omits untagged ones from imageIds).
        result.deleted += imageIds.length - (res.failures ?? []).length;
        for (const f of res.failures ?? []) {
            if (f.failureCode === ECR_IMAGE_NOT_FOUND) result.alreadyGone += 1;
            else failures.push(`${f.imageId?.imageDigest}: ${f.failureCode}: ${f.failureReason}`);
        }
    }
    return failures;
}

/**
 * Deletes every image in the repository, round after round: each round lists what is left and deletes it, so an
 * image that failed (an index's children, say, can go only after the index) is tried again, after a backoff, and
 * images pushed meanwhile are found. A missing repository counts as success.
 */
export async function emptyRepository(
    ecr: EcrImagesApi,
    repo: RepositoryRef,
    log: Log = silentLog,
    opts: EmptyOptions = {},
): Promise<EmptyResult> {
    const { attempts = 5, backoffMs = (n: number) => 200 * 2 ** (n - 1) } = opts;
    const name = repo.repositoryName;
    const result: EmptyResult = {
        repositoryName: name,
        deleted: 0,
        alreadyGone: 0,
        repositoryMissing: false,
    };
    try {
        let failures: string[] = [];
        for (let round = 1; ; round++) {
            const pending = await listDigests(ecr, repo);
            if (pending.length === 0) break;
            if (round > attempts) {
                throw failed(
                    failures.length > 0
                        ? `${name}: ${pending.length} images could not be deleted after ${attempts} attempts: ${failures.slice(0, 3).join("; ")}`
                        : // Images keep appearing: something is still pushing, and emptying would never end.
                          `${name}: images keep appearing after ${attempts} rounds; is something still pushing?`,
                );
            }
            if (failures.length > 0) await sleep(backoffMs(round - 1));
            failures = await deleteDigests(ecr, repo, pending, result);
        }
    } catch (err) {
        if (errorName(err) !== REPOSITORY_NOT_FOUND) throw err;
        result.repositoryMissing = true;
    }
    log({ message: result.repositoryMissing ? "repository already gone" : "emptied repository", ...result });
    return result;
}
