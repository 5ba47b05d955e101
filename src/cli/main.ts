import { Command, CommanderError } from "commander";
import { addCodesCommands, type Act } from "./codes";
import { addKeyCommands } from "./keys";
import { addLedgerCommands } from "./ledger";
import { addCaseCommands } from "./cases";
import { addEpcisCommands } from "./epcis";
import { addQualityCommands } from "./quality";
import { addReadCommands } from "./reads";
import { addSupervisionCommands } from "./supervision";
import { addDocumentCommands } from "./documents";
import { addRegulatorRecordCommands } from "./inspections";
import { EXIT_ERROR, processIo, reportError, type CliIo } from "./io";

/** The project's CLI; each area of the ledger adds its command group here. */
export function createProgram(io: CliIo, setExit: (status: number) => void): Command {
  const program = new Command("trace").description("drug traceability ledger").exitOverride();
  program.configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) });
  const act: Act =
    (action) =>
    async (...args) => {
      const options = args.at(-2) as { json?: boolean } | undefined;
      try {
        setExit(await action(...args));
      } catch (error) {
        setExit(reportError(io, options?.json === true, error));
      }
    };
  addCodesCommands(program, io, act);
  addKeyCommands(program, io, act);
  addLedgerCommands(program, io, act);
  addCaseCommands(program, io, act);
  addReadCommands(program, io, act);
  addDocumentCommands(program, io, act);
  addSupervisionCommands(program, io, act);
  addEpcisCommands(program, io, act);
  addQualityCommands(program, io, act);
  addRegulatorRecordCommands(program, io, act);
  return program;
}

/**
 * Runs the CLI and returns its exit status: 0 done, 1 the answer is no (a proof, a scan), 2 bad input or usage,
 * 3 the ledger refused, 4 an endpoint did not answer.
 */
export async function run(argv: string[], io: CliIo = processIo): Promise<number> {
  let status = 0;
  const program = createProgram(io, (s) => (status = s));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_ERROR;
    throw error;
  }
  return status;
}
