//! The words of timing tables and charts, in English and Spanish.

/// The reader's language for headers, notes and numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Language {
    #[default]
    English,
    Spanish,
}

impl Language {
    /// `"es"`, `"es-ES"`, `"es_MX.UTF-8"`… are Spanish; anything else is English.
    pub(crate) fn from_code(code: &str) -> Language {
        let code = code.trim().to_ascii_lowercase();
        if code == "es" || code.starts_with("es-") || code.starts_with("es_") {
            Language::Spanish
        } else {
            Language::English
        }
    }

    /// The code written in the JSON form.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Spanish => "es",
        }
    }

    pub(crate) fn words(self) -> &'static Words {
        match self {
            Language::English => &ENGLISH,
            Language::Spanish => &SPANISH,
        }
    }

    /// A number as this language writes it: Spanish uses a decimal comma.
    pub(crate) fn number(self, text: String) -> String {
        match self {
            Language::English => text,
            Language::Spanish => text.replace('.', ","),
        }
    }
}

/// Every word a table or chart prints.
pub(crate) struct Words {
    pub(crate) variant: &'static str,
    pub(crate) workers: &'static str,
    pub(crate) wall: &'static str,
    pub(crate) runs: &'static str,
    pub(crate) spread: &'static str,
    pub(crate) cpu: &'static str,
    pub(crate) speedup: &'static str,
    pub(crate) efficiency: &'static str,
    pub(crate) reference: &'static str,
    pub(crate) reference_ratio: &'static str,
    /// Under a table whose rows ran more than once.
    pub(crate) runs_note: &'static str,
    /// Starts the busy-machine note: `… 48 % of the CPUs during «x»`.
    pub(crate) busy_start: &'static str,
    /// `{share} % … during «{row}»`, the first (with `busy_start`) and the others.
    pub(crate) busy_first: &'static str,
    pub(crate) busy_more: &'static str,
    pub(crate) busy_end: &'static str,
    /// Headings of the charts.
    pub(crate) wall_chart: &'static str,
    pub(crate) speedup_chart: &'static str,
    pub(crate) ideal: &'static str,
}

const ENGLISH: Words = Words {
    variant: "Variant",
    workers: "Workers",
    wall: "Wall",
    runs: "Runs",
    spread: "Min–max",
    cpu: "CPU",
    speedup: "Speedup",
    efficiency: "Efficiency",
    reference: "Reference",
    reference_ratio: "Reference ÷ Wall",
    runs_note: "Wall and CPU: medians of the runs (short work runs until 0.2 s, at most 7 \
                times); Min–max: the fastest and the slowest run.",
    busy_start: "busy machine: other programs used ",
    busy_first: "{share} % of the CPUs during «{row}»",
    busy_more: ", {share} % during «{row}»",
    busy_end: "; those times are longer than on an idle machine, and their speedup says \
               little about the code.",
    wall_chart: "Wall time",
    speedup_chart: "Speedup",
    ideal: "ideal (= workers)",
};

const SPANISH: Words = Words {
    variant: "Variante",
    workers: "Trabajadores",
    wall: "Tiempo real",
    runs: "Ejecuciones",
    spread: "Mín–máx",
    cpu: "CPU",
    speedup: "Aceleración",
    efficiency: "Eficiencia",
    reference: "Referencia",
    reference_ratio: "Referencia ÷ tiempo real",
    runs_note: "Tiempo real y CPU: medianas de las ejecuciones (el trabajo corto se repite \
                hasta sumar 0,2 s, como mucho 7 veces); Mín–máx: la más rápida y la más lenta.",
    busy_start: "máquina ocupada: otros programas usaron el ",
    busy_first: "{share} % de las CPU durante «{row}»",
    busy_more: ", el {share} % durante «{row}»",
    busy_end: "; esos tiempos son más largos que en una máquina libre, y su aceleración dice \
               poco del código.",
    wall_chart: "Tiempo real",
    speedup_chart: "Aceleración",
    ideal: "ideal (= trabajadores)",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Language::from_code("es"), Language::Spanish);
        assert_eq!(Language::from_code("es_ES.UTF-8"), Language::Spanish);
        assert_eq!(Language::from_code("en"), Language::English);
        assert_eq!(Language::from_code("estonian?"), Language::English);
    }

    #[test]
    fn english_busy_note_says_busy() {
        assert!(ENGLISH.busy_start.contains("busy"));
    }
}
