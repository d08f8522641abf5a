// Lambda entry for the CloudFormation custom resource that empties an ECR repository when the stack deletes it.
// `export =` keeps the bundle free of ES-module glue: the inline template's code must stay under 4096 bytes.
import { ECRClient } from "@aws-sdk/client-ecr";
import { type CfnEvent, handleCfnEvent } from "../core/customResource";
import { consoleLog } from "../core/log";

const ecr = new ECRClient({});
export = { handler: (event: CfnEvent) => handleCfnEvent(ecr, event, { log: consoleLog }) };
