// A local HTTPS server standing in for CloudFormation's pre-signed ResponseURL (self-signed certificate via openssl).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ReceivedResponse {
    method: string;
    path: string;
    contentType: string | undefined;
    body: string;
}

export interface ResponseServer {
    /** A URL shaped like a pre-signed S3 URL, with a secret-looking query string. */
    url(requestId: string): string;
    received: ReceivedResponse[];
    close(): Promise<void>;
}

export async function startResponseServer(): Promise<ResponseServer> {
    const dir = mkdtempSync(join(tmpdir(), "image-janitor-tls-"));
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync(
        "openssl",
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        { stdio: "ignore" },
    );
    const pem = readFileSync(cert);
    const received: ReceivedResponse[] = [];
    const server = https.createServer({ key: readFileSync(key), cert: pem }, (req, res) => {
        let body = "";
        req.on("data", (c) => {
            body += c;
        });
        req.on("end", () => {
            received.push({
                method: req.method ?? "",
                path: req.url ?? "",
                contentType: req.headers["content-type"],
                body,
            });
            res.writeHead(200).end();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    // The handler uses the default agent, as it does in Lambda; trust this certificate there only for the test.
    const previousCa = https.globalAgent.options.ca;
    https.globalAgent.options.ca = pem;
    return {
        url: (requestId) =>
            `https://127.0.0.1:${port}/cfn-response/${requestId}?X-Amz-Signature=secret${requestId}`,
        received,
        close: async () => {
            https.globalAgent.options.ca = previousCa;
            await new Promise((resolve) => server.close(resolve));
            rmSync(dir, { recursive: true, force: true });
        },
    };
}
