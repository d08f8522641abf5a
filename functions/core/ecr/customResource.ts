// CloudFormation custom-resource protocol around emptyRepository: always answers, and in time (before the
// function's own time runs out, every call and the response PUT under a deadline), with a stable physical id and a
// body under 4096 bytes, and never logs the pre-signed ResponseURL.
import { request } from "node:https";
import { errorMessage, invalidInput } from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { sleep } from "../shared/time";
import { type EcrImagesApi, emptyRepository, type RepositoryRef } from "./empty";

export interface CfnEvent {
    RequestType: string;
    ResponseURL: string;
    StackId: string;
    RequestId: string;
    LogicalResourceId: string;
    PhysicalResourceId?: string;
    ResourceProperties: Record<string, unknown>;
}

export interface CfnResponse {
    Status: "SUCCESS" | "FAILED";
    Reason?: string;
    PhysicalResourceId: string;
    StackId: string;
    RequestId: string;
    LogicalResourceId: string;
    NoEcho: false;
    Data?: Record<string, number>;
}

export const MAX_BODY_BYTES = 4096;
/** A Reason this long stays under 4096 bytes with every other field at its largest, even if JSON escapes it all. */
export const MAX_REASON_CHARS = 480;
/** Kept back from the function's time to answer: two response PUTs of at most 5 s each, and a pause between. */
export const ANSWER_RESERVE_MS = 15_000;
const PUT_TIMEOUT_MS = 5_000;
const REPOSITORY_NAME = /^[a-z0-9][a-z0-9._\-/]{1,255}$/;
const NOT_CREATED = ":not-created";

/** RepositoryName (required) and RegistryId (optional) from the resource's properties. */
export function repositoryOf(props: Record<string, unknown>): RepositoryRef {
    const { RepositoryName: name, RegistryId: registry } = props;
    if (typeof name !== "string" || !REPOSITORY_NAME.test(name))
        throw invalidInput("RepositoryName", name, "an ECR repository name");
    // RegistryId is passed through as given: ECR's own validation error names it.
    return registry ? { repositoryName: name, registryId: String(registry) } : { repositoryName: name };
}

/** Derived from the repository: a renamed repository gets a new id, so CloudFormation sends a Delete for the old one. */
export const physicalIdOf = (repo: RepositoryRef) =>
    `empty-on-delete:${repo.registryId ?? "self"}:${repo.repositoryName}`;

/**
 * The id to answer with, success or not. Derived from the repository; a Create whose properties are invalid
 * created nothing, and says so, so that its rollback's Delete has nothing to do.
 */
function physicalIdFor(e: CfnEvent): string {
    if (e.RequestType === "Delete") return e.PhysicalResourceId ?? e.LogicalResourceId;
    try {
        return physicalIdOf(repositoryOf(e.ResourceProperties));
    } catch {
        return e.PhysicalResourceId ?? `${e.LogicalResourceId}${NOT_CREATED}`;
    }
}

/** Create and Update empty nothing (their properties are checked); Delete empties the repository. */
async function act(ecr: EcrImagesApi, e: CfnEvent, id: string, log: Log) {
    if (e.RequestType === "Create" || e.RequestType === "Update") {
        repositoryOf(e.ResourceProperties);
        return undefined;
    }
    if (e.RequestType !== "Delete")
        throw invalidInput("RequestType", e.RequestType, "Create, Update or Delete");
    if (id.endsWith(NOT_CREATED)) return undefined;
    return { Deleted: (await emptyRepository(ecr, repositoryOf(e.ResourceProperties), log)).deleted };
}

/** The response document; a long Reason is cut so that the whole body stays under 4096 bytes. */
export function responseBody(
    e: CfnEvent,
    r: Omit<CfnResponse, "StackId" | "RequestId" | "LogicalResourceId" | "NoEcho">,
): string {
    const { StackId, RequestId, LogicalResourceId } = e;
    const Reason = r.Reason?.slice(0, MAX_REASON_CHARS);
    return JSON.stringify({ ...r, Reason, StackId, RequestId, LogicalResourceId, NoEcho: false });
}

/** PUTs the response to the pre-signed URL, each try under a deadline: CloudFormation waits for one that never comes. */
export async function putResponse(url: string, body: string, attempts = 2): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await new Promise<void>((resolve, reject) => {
                const headers = { "content-type": "", "content-length": Buffer.byteLength(body) };
                const signal = AbortSignal.timeout(PUT_TIMEOUT_MS);
                const req = request(url, { method: "PUT", headers, signal }, (res) => {
                    res.resume();
                    Number(res.statusCode) < 300
                        ? resolve()
                        : reject(new Error(`response PUT returned ${res.statusCode}`));
                });
                req.on("error", reject).end(body);
            });
        } catch (err) {
            if (attempt >= attempts) throw err;
            await sleep(500);
        }
    }
}

export interface CfnDeps {
    send?: (url: string, body: string) => Promise<void>;
    log?: Log;
    /** What Lambda's context says is left of this invocation; the answer goes out ANSWER_RESERVE_MS before. */
    timeLeftMs?: () => number;
}

/** Handles one event and always answers CloudFormation, in time: every error becomes FAILED with a short reason. */
export async function handleCfnEvent(
    ecr: EcrImagesApi,
    e: CfnEvent,
    deps: CfnDeps = {},
): Promise<CfnResponse> {
    const { send = putResponse, log = silentLog, timeLeftMs = () => 900_000 } = deps;
    // The pre-signed ResponseURL is a credential: never logged (JSON leaves an undefined field out).
    log({ message: "cfn request", ...e, ResponseURL: undefined });
    let response: Omit<CfnResponse, "StackId" | "RequestId" | "LogicalResourceId" | "NoEcho">;
    const id = physicalIdFor(e);
    // Answered before the function's time runs out, whatever ECR does meanwhile.
    const ms = timeLeftMs() - ANSWER_RESERVE_MS;
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<never>((_, reject) => {
        timer = setTimeout(reject, ms, new Error(`${e.RequestType} of ${id} did not finish in ${ms} ms`));
    });
    try {
        const data = await Promise.race([act(ecr, e, id, log), outOfTime]);
        response = { Status: "SUCCESS", PhysicalResourceId: id, ...(data ? { Data: data } : {}) };
    } catch (err) {
        response = { Status: "FAILED", Reason: errorMessage(err), PhysicalResourceId: id };
    } finally {
        clearTimeout(timer);
    }
    const body = responseBody(e, response);
    log({
        message: "cfn response",
        Status: response.Status,
        PhysicalResourceId: id,
        Reason: response.Reason,
    });
    await send(e.ResponseURL, body);
    return JSON.parse(body) as CfnResponse;
}
