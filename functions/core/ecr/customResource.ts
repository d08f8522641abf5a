// CloudFormation custom-resource protocol around emptyRepository: always answers, with a stable physical id and a
// body under 4096 bytes, and never logs the pre-signed ResponseURL.
import { request } from "node:https";
import { errorMessage } from "../shared/errors";
import { type Log, silentLog } from "../shared/log";
import { sleep } from "../shared/time";
import { type EcrImagesApi, emptyRepository, type RepositoryRef } from "./empty";

export interface CfnEvent {
    RequestType: "Create" | "Update" | "Delete";
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
const REPOSITORY_NAME = /^[a-z0-9][a-z0-9._\-/]{1,255}$/;
const NOT_CREATED = ":not-created";

/** RepositoryName (required) and RegistryId (optional) from the resource's properties. */
export function repositoryOf(props: Record<string, unknown>): RepositoryRef {
    const { RepositoryName: name, RegistryId: registry } = props;
    if (typeof name !== "string" || !REPOSITORY_NAME.test(name)) {
        throw new Error(`RepositoryName must be an ECR repository name (got ${JSON.stringify(name)})`);
    }
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
function physicalIdFor(event: CfnEvent): string {
    if (event.RequestType === "Delete") return event.PhysicalResourceId ?? event.LogicalResourceId;
    try {
        return physicalIdOf(repositoryOf(event.ResourceProperties));
    } catch {
        return event.PhysicalResourceId ?? `${event.LogicalResourceId}${NOT_CREATED}`;
    }
}

/** Create and Update empty nothing (their properties are checked); Delete empties the repository. */
async function act(ecr: EcrImagesApi, event: CfnEvent, id: string, log: Log) {
    if (event.RequestType !== "Delete") {
        repositoryOf(event.ResourceProperties);
        return undefined;
    }
    if (id.endsWith(NOT_CREATED)) return undefined;
    const result = await emptyRepository(ecr, repositoryOf(event.ResourceProperties), log);
    return { Deleted: result.deleted };
}

/** The response document, with Reason cut so the whole body stays under 4096 bytes. */
export function responseBody(
    event: CfnEvent,
    r: Omit<CfnResponse, "StackId" | "RequestId" | "LogicalResourceId" | "NoEcho">,
): string {
    const { StackId, RequestId, LogicalResourceId } = event;
    const doc = { ...r, StackId, RequestId, LogicalResourceId, NoEcho: false };
    const room = MAX_BODY_BYTES - 64 - Buffer.byteLength(JSON.stringify({ ...doc, Reason: "" }));
    // JSON escaping can grow a character to 6 bytes, hence the division.
    if (r.Reason && Buffer.byteLength(JSON.stringify(r.Reason)) > room)
        doc.Reason = `${r.Reason.slice(0, Math.floor(room / 6))}...`;
    return JSON.stringify(doc);
}

/** PUTs the response to the pre-signed URL, retrying a few times; CloudFormation waits an hour for one that never comes. */
export async function putResponse(url: string, body: string, attempts = 3): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            await new Promise<void>((resolve, reject) => {
                const req = request(
                    url,
                    {
                        method: "PUT",
                        headers: { "content-type": "", "content-length": Buffer.byteLength(body) },
                    },
                    (res) => {
                        res.resume();
                        res.on("end", () =>
                            (res.statusCode ?? 0) < 300
                                ? resolve()
                                : reject(new Error(`response PUT returned ${res.statusCode}`)),
                        );
                    },
                );
                req.on("error", reject);
                req.end(body);
            });
            return;
        } catch (err) {
            if (attempt >= attempts) throw err;
            await sleep(500 * attempt);
        }
    }
}

export interface CfnDeps {
    send?: (url: string, body: string) => Promise<void>;
    log?: Log;
}

/** Handles one event and always answers CloudFormation: every error becomes FAILED with a short reason. */
export async function handleCfnEvent(
    ecr: EcrImagesApi,
    event: CfnEvent,
    deps: CfnDeps = {},
): Promise<CfnResponse> {
    const { send = putResponse, log = silentLog } = deps;
    const { ResponseURL: _url, ...loggable } = event;
    log({ message: "cfn request", ...loggable });
    let response: Omit<CfnResponse, "StackId" | "RequestId" | "LogicalResourceId" | "NoEcho">;
    const id = physicalIdFor(event);
    try {
        const data = await act(ecr, event, id, log);
        response = { Status: "SUCCESS", PhysicalResourceId: id, ...(data ? { Data: data } : {}) };
    } catch (err) {
        response = { Status: "FAILED", Reason: errorMessage(err), PhysicalResourceId: id };
    }
    const body = responseBody(event, response);
    log({
        message: "cfn response",
        Status: response.Status,
        PhysicalResourceId: response.PhysicalResourceId,
        Reason: response.Reason,
    });
    await send(event.ResponseURL, body);
    return JSON.parse(body) as CfnResponse;
}
