// CloudFormation custom-resource protocol around emptyRepository: always answers, with a stable physical id and a
// body under 4096 bytes, and never logs the pre-signed ResponseURL.
import { request } from "node:https";
import type { ECRClient } from "@aws-sdk/client-ecr";
import { emptyRepository, type RepositoryRef } from "./ecr";
import { errorMessage } from "./errors";
import { type Log, silentLog } from "./log";
import { sleep } from "./time";

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

/** Create and Update empty nothing; Delete empties the repository. Returns the id and data to answer with. */
async function act(
    ecr: ECRClient,
    event: CfnEvent,
    log: Log,
): Promise<{ id: string; data?: Record<string, number> }> {
    if (event.RequestType === "Delete") {
        const id = event.PhysicalResourceId ?? "";
        // A Create that failed validation created nothing: its Delete (during rollback) has nothing to do.
        if (id.endsWith(NOT_CREATED)) return { id };
        const result = await emptyRepository(ecr, repositoryOf(event.ResourceProperties), log);
        return { id, data: { Deleted: result.deleted } };
    }
    try {
        return { id: physicalIdOf(repositoryOf(event.ResourceProperties)) };
    } catch (err) {
        const id = event.PhysicalResourceId ?? `${event.LogicalResourceId}${NOT_CREATED}`;
        throw Object.assign(err as Error, { physicalResourceId: id });
    }
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
    ecr: ECRClient,
    event: CfnEvent,
    deps: CfnDeps = {},
): Promise<CfnResponse> {
    const { send = putResponse, log = silentLog } = deps;
    const { ResponseURL: _url, ...loggable } = event;
    log({ message: "cfn request", ...loggable });
    let response: Omit<CfnResponse, "StackId" | "RequestId" | "LogicalResourceId" | "NoEcho">;
    try {
        const { id, data } = await act(ecr, event, log);
        response = { Status: "SUCCESS", PhysicalResourceId: id, ...(data ? { Data: data } : {}) };
    } catch (err) {
        const id =
            (err as { physicalResourceId?: string }).physicalResourceId ??
            event.PhysicalResourceId ??
            event.LogicalResourceId;
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
