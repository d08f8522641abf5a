// Lambda entry for the CloudFormation custom resource that empties an ECR repository when the stack deletes it.
// `export =` keeps the bundle free of ES-module glue: the inline template's code must stay under 4096 bytes.
import { ECR } from "@aws-sdk/client-ecr";
import { type CfnEvent, handleCfnEvent } from "../core/ecr/customResource";
import { consoleLog } from "../core/shared/log";

// Every ECR call under a deadline: a hung connection fails (and is retried) instead of holding the stack.
const ecr = new ECR({ requestHandler: { requestTimeout: 30_000, throwOnRequestTimeout: true } });
export = {
    handler: (event: CfnEvent, context: { getRemainingTimeInMillis(): number }) =>
        handleCfnEvent(ecr, event, { log: consoleLog, timeLeftMs: () => context.getRemainingTimeInMillis() }),
};
