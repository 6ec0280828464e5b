export * from "./admission.ts";
export * from "./certs.ts";
export * from "./configure.ts";
export * from "./conversion.ts";
export type {
  AdmissionRequestWire,
  AdmissionResponseWire,
  ConversionRequestWire,
  ConversionResponseWire,
  Operation,
  UserInfo,
} from "./review.ts";
export * from "./server.ts";
