import { Role } from "../ledger";

export const JIANGSU = 320000;
export const ZHEJIANG = 330000;
export const SHANGHAI = 310000;

export type DemoRole = "MAH" | "CMO" | "DISTRIBUTOR" | "DISPENSER" | "REGULATOR" | "LABORATORY";

/** The role names the contracts' Role enum numbers. */
export const ROLE_NUMBER: Record<DemoRole, number> = {
  MAH: Role.Mah,
  CMO: Role.Cmo,
  DISTRIBUTOR: Role.Distributor,
  DISPENSER: Role.Dispenser,
  REGULATOR: Role.Regulator,
  LABORATORY: Role.Laboratory,
};

/** An organization of the demo consortium as written to `<dataDir>/demo/organizations.json` (the web pages read it). */
export type DemoOrganization = {
  organizationId: number;
  name: string;
  role: DemoRole;
  region: number;
  address: string;
  privateKey: string;
};

export type DemoMember = { name: string; role: DemoRole; region: number; licence: string };

/**
 * The consortium: an MAH in Jiangsu that owns no factory (a B-certificate holder) commissions a CMO in Zhejiang;
 * a Shanghai third-party logistics company stores and transports for it; a distributor in each of Jiangsu and
 * Zhejiang; a hospital pharmacy; a contract testing laboratory in Zhejiang; the regulators of both provinces. The Jiangsu regulator is bootstrapped by the
 * deployment and onboards the others; the Zhejiang regulator onboards the Zhejiang companies.
 */
export const JIANGSU_REGULATOR: DemoMember = {
  name: "江苏省药品监督管理局 Jiangsu Medical Products Administration",
  role: "REGULATOR",
  region: JIANGSU,
  licence: "Jiangsu Medical Products Administration",
};

export const ONBOARDED_BY_JIANGSU = {
  zhejiangRegulator: {
    name: "浙江省药品监督管理局 Zhejiang Medical Products Administration",
    role: "REGULATOR",
    region: ZHEJIANG,
    licence: "Zhejiang Medical Products Administration",
  },
  mah: {
    name: "苏州禾康药业有限公司 Suzhou Hekang Pharmaceutical Co., Ltd.",
    role: "MAH",
    region: JIANGSU,
    licence: "药品生产许可证 苏20250117 (B)",
  },
  storage: {
    name: "上海申通医药储运有限公司 Shanghai Shentong Pharmaceutical Storage & Logistics Co., Ltd.",
    role: "DISTRIBUTOR",
    region: SHANGHAI,
    licence: "药品经营许可证 沪AA0210388",
  },
  nanjing: {
    name: "南京金陵医药有限公司 Nanjing Jinling Pharmaceutical Co., Ltd.",
    role: "DISTRIBUTOR",
    region: JIANGSU,
    licence: "药品经营许可证 苏AA0250612",
  },
  hospital: {
    name: "苏州星湖医院药剂科 Suzhou Xinghu Hospital Pharmacy",
    role: "DISPENSER",
    region: JIANGSU,
    licence: "医疗机构执业许可证 PDY32050612",
  },
} as const satisfies Record<string, DemoMember>;

export const ONBOARDED_BY_ZHEJIANG = {
  cmo: {
    name: "浙江华川制药有限公司 Zhejiang Huachuan Pharmaceutical Co., Ltd.",
    role: "CMO",
    region: ZHEJIANG,
    licence: "药品生产许可证 浙20160093",
  },
  hangzhou: {
    name: "杭州之江医药有限公司 Hangzhou Zhijiang Pharmaceutical Co., Ltd.",
    role: "DISTRIBUTOR",
    region: ZHEJIANG,
    licence: "药品经营许可证 浙AA5710086",
  },
  laboratory: {
    name: "杭州华测药品检测有限公司 Hangzhou Huace Drug Testing Co., Ltd.",
    role: "LABORATORY",
    region: ZHEJIANG,
    licence: "检验检测机构资质认定证书 CMA 221100340123",
  },
} as const satisfies Record<string, DemoMember>;

/**
 * The MAH's products: tablets labelled with GS1 DataMatrix codes, tablets with NMPA 20-digit codes, and a sterile
 * powder for injection (GS1), whose batches need environmental-monitoring and cleaning records before release.
 */
export const PRODUCTS = {
  atorvastatin: {
    scheme: "gs1",
    productCode: "06903123456782",
    approvalNumber: "国药准字H20253101",
    name: "阿托伐他汀钙片 Atorvastatin Calcium Tablets 20 mg × 7",
  },
  metformin: {
    scheme: "nmpa",
    productCode: "8606321",
    approvalNumber: "国药准字H20253102",
    name: "盐酸二甲双胍缓释片 Metformin Hydrochloride Extended-release Tablets 0.5 g × 30",
  },
  ceftriaxone: {
    scheme: "gs1",
    productCode: "06903123456799",
    approvalNumber: "国药准字H20253103",
    name: "注射用头孢曲松钠 Ceftriaxone Sodium for Injection 1.0 g",
  },
} as const;
