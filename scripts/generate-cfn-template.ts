// `npm run generate:cfn`: writes the standalone template from the TypeScript handler. A test fails when it is stale.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inlineHandlerCode } from "../components/bundle";
import { standaloneTemplate } from "../components/cfnTemplates";

export const TEMPLATE_PATH = join(__dirname, "..", "cloudformation", "empty-ecr-repository.template.json");

export function renderTemplate(): string {
    return `${JSON.stringify(standaloneTemplate(inlineHandlerCode()), null, 2)}\n`;
}

if (require.main === module) {
    writeFileSync(TEMPLATE_PATH, renderTemplate());
    process.stdout.write(`wrote ${TEMPLATE_PATH}\n`);
}
