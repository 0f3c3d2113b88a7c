//! Systems that are gone. Asking for one says what replaced it instead of "unknown site".

/// (names people type, display name, when, successor profile, what happened, source)
pub struct Retired {
    pub names: &'static [&'static str],
    pub display_name: &'static str,
    pub when: &'static str,
    pub successor: &'static str,
    pub detail: &'static str,
    pub source: &'static str,
}

pub const RETIRED: &[Retired] = &[
    Retired {
        names: &["fram"],
        display_name: "Fram (Sigma2)",
        when: "decommissioned 4 December 2025",
        successor: "olivia",
        detail: "Fram users were migrated to Olivia.",
        source: "https://documentation.sigma2.no/hpc_machines/hardware_overview.html",
    },
    Retired {
        names: &["bigred3", "big-red-3", "br3"],
        display_name: "Big Red 3 (IU)",
        when: "retired in 2023",
        successor: "bigred200",
        detail: "IU's current research supercomputers are Big Red 200 and Quartz.",
        source: "https://servicenow.iu.edu/kb?id=kb_article_view&sysparm_article=KB0025040",
    },
    Retired {
        names: &["carbonate"],
        display_name: "Carbonate (IU)",
        when: "retired in December 2023",
        successor: "quartz",
        detail: "IU's current research supercomputers are Quartz and Big Red 200.",
        source: "https://servicenow.iu.edu/kb?id=kb_article_view&sysparm_article=KB0025040",
    },
    Retired {
        names: &["karst", "mason"],
        display_name: "Karst / Mason (IU)",
        when: "retired",
        successor: "quartz",
        detail: "IU's current research supercomputers are Quartz and Big Red 200.",
        source: "https://servicenow.iu.edu/kb?id=kb_article_view&sysparm_article=KB0025040",
    },
    Retired {
        names: &["cedar"],
        display_name: "Cedar (Alliance)",
        when: "retired 12 September 2025",
        successor: "fir",
        detail: "Cedar's files are visible on Fir.",
        source: "https://docs.alliancecan.ca/wiki/Cedar",
    },
    Retired {
        names: &["graham"],
        display_name: "Graham (Alliance)",
        when: "retired 1 September 2025",
        successor: "nibi",
        detail: "Graham's files are visible on Nibi.",
        source: "https://docs.alliancecan.ca/wiki/Graham",
    },
    Retired {
        names: &["beluga", "béluga"],
        display_name: "Béluga (Calcul Québec)",
        when: "compute stopped when Rorqual opened; storage decommissioned by 20 June 2026",
        successor: "rorqual",
        detail: "Rorqual, also run by Calcul Québec at ÉTS, replaced Béluga.",
        source: "https://docs.alliancecan.ca/wiki/Infrastructure_renewal",
    },
    Retired {
        names: &["niagara", "mist"],
        display_name: "Niagara / Mist (SciNet)",
        when: "retired 30 September 2025 (Mist 16 September 2025)",
        successor: "trillium",
        detail: "Trillium replaced Niagara and Mist; venvs must be recreated there because paths changed.",
        source: "https://docs.alliancecan.ca/wiki/Transition_from_Niagara_to_Trillium",
    },
];

pub fn find(name: &str) -> Option<&'static Retired> {
    let name = name.to_lowercase();
    RETIRED.iter().find(|r| r.names.contains(&name.as_str()))
}
