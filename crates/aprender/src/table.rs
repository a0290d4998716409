//! CSV loading: a numeric feature table with one named target column.

use std::path::Path;

use crate::{AprenderError, Matrix};

/// A loaded CSV: numeric features, and the target column kept as text until
/// the caller says whether it holds classes or values.
#[derive(Debug, Clone)]
pub struct Table {
    /// The feature columns, in file order.
    pub x: Matrix,
    /// Names of the feature columns.
    pub features: Vec<String>,
    /// Name of the target column.
    pub target: String,
    target_text: Vec<String>,
    lines: Vec<u64>,
    origin: String,
}

/// Class targets: an index per row into `classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Classes {
    /// Per-row class index, as `f32` (what the classifiers take).
    pub y: Vec<f32>,
    /// Class names; index `i` is class `i`.
    pub names: Vec<String>,
}

impl Table {
    /// Reads a CSV file with a header row; every column but `target` must be numeric.
    pub fn from_csv(path: impl AsRef<Path>, target: &str) -> Result<Table, AprenderError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| AprenderError::Io {
            path: path.to_owned(),
            source,
        })?;
        Table::from_csv_bytes(&bytes, target, &path.display().to_string())
    }

    /// Parses CSV bytes; `origin` names them in errors.
    pub fn from_csv_bytes(
        bytes: &[u8],
        target: &str,
        origin: &str,
    ) -> Result<Table, AprenderError> {
        let err = |line: u64, problem: String| AprenderError::Data {
            origin: origin.to_owned(),
            line,
            problem,
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let header = reader
            .headers()
            .map_err(|e| err(1, format!("unreadable header: {e}")))?
            .clone();
        let names: Vec<String> = header.iter().map(str::to_owned).collect();
        let hits: Vec<usize> = (0..names.len()).filter(|&i| names[i] == target).collect();
        let t = match hits[..] {
            [i] => i,
            [] => {
                return Err(err(
                    1,
                    format!("no column named `{target}` (columns: {})", names.join(", ")),
                ));
            }
            _ => {
                return Err(err(
                    1,
                    format!("the column `{target}` appears more than once"),
                ));
            }
        };
        if names.len() < 2 {
            return Err(err(1, "a table needs at least one feature column".into()));
        }
        let mut data = Vec::new();
        let mut target_text = Vec::new();
        let mut lines = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                err(line, format!("malformed row: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line());
            for (c, field) in record.iter().enumerate() {
                if c == t {
                    if field.is_empty() {
                        return Err(err(line, format!("the target `{target}` is empty")));
                    }
                    target_text.push(field.to_owned());
                    lines.push(line);
                    continue;
                }
                let v: f32 = field.parse().map_err(|_| {
                    err(
                        line,
                        format!("column `{}` holds `{field}`, not a number", names[c]),
                    )
                })?;
                if !v.is_finite() {
                    return Err(err(
                        line,
                        format!("column `{}` holds the non-finite `{field}`", names[c]),
                    ));
                }
                data.push(v);
            }
        }
        if target_text.is_empty() {
            return Err(err(0, "the table has no data rows".into()));
        }
        let features: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != t)
            .map(|(_, n)| n.clone())
            .collect();
        Ok(Table {
            x: Matrix::new(target_text.len(), features.len(), data)?,
            features,
            target: target.to_owned(),
            target_text,
            lines,
            origin: origin.to_owned(),
        })
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.x.rows()
    }

    /// The target as numbers (for regression); an error names the first row that is not one.
    pub fn values(&self) -> Result<Vec<f32>, AprenderError> {
        self.target_text
            .iter()
            .enumerate()
            .map(|(row, s)| {
                s.parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| AprenderError::Data {
                        origin: self.origin.clone(),
                        line: self.lines[row],
                        problem: format!("the target `{}` holds `{s}`, not a number", self.target),
                    })
            })
            .collect()
    }

    /// The target as classes. Names are sorted (numerically when every label is
    /// a number, so `2` comes before `10`), and class `i` is `names[i]`.
    pub fn classes(&self) -> Classes {
        let mut names: Vec<String> = self.target_text.clone();
        names.sort();
        names.dedup();
        let numeric: Option<Vec<f64>> = names.iter().map(|s| s.parse().ok()).collect();
        if let Some(nums) = numeric {
            let mut order: Vec<usize> = (0..names.len()).collect();
            order.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]));
            names = order.into_iter().map(|i| names[i].clone()).collect();
        }
        let y = self
            .target_text
            .iter()
            .map(|s| {
                names
                    .iter()
                    .position(|n| n == s)
                    .expect("every label is named") as f32
            })
            .collect();
        Classes { y, names }
    }

    /// The class indices of `self` under a model's existing class names; an
    /// error names the first row whose label the model never saw.
    pub fn classes_as(&self, names: &[String]) -> Result<Vec<f32>, AprenderError> {
        self.target_text
            .iter()
            .enumerate()
            .map(|(row, s)| {
                names
                    .iter()
                    .position(|n| n == s)
                    .map(|i| i as f32)
                    .ok_or_else(|| AprenderError::Data {
                        origin: self.origin.clone(),
                        line: self.lines[row],
                        problem: format!(
                            "class `{s}` is not one the model knows ({})",
                            names.join(", ")
                        ),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_features_and_classes() {
        let t =
            Table::from_csv_bytes(b"a,label,b\n1,10,2\n3,2,4\n5,10,6\n", "label", "t.csv").unwrap();
        assert_eq!(t.features, ["a", "b"]);
        assert_eq!(t.x.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c = t.classes();
        assert_eq!(c.names, ["2", "10"], "numeric labels sort as numbers");
        assert_eq!(c.y, [1.0, 0.0, 1.0]);
        assert_eq!(t.values().unwrap(), [10.0, 2.0, 10.0]);
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = |csv: &[u8], target| {
            Table::from_csv_bytes(csv, target, "d.csv")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e(b"a,y\n1,0\nx,1\n", "y"),
            "d.csv:3: column `a` holds `x`, not a number"
        );
        assert!(e(b"a,y\n1,0\n", "z").contains("no column named `z` (columns: a, y)"));
        assert!(e(b"a,y\n1,0\n2\n", "y").starts_with("d.csv:3: malformed row"));
        assert_eq!(e(b"a,y\n", "y"), "d.csv:0: the table has no data rows");
        assert_eq!(e(b"a,y\n1,\n", "y"), "d.csv:2: the target `y` is empty");
        assert_eq!(
            e(b"a,y\nnan,1\n", "y"),
            "d.csv:2: column `a` holds the non-finite `nan`"
        );
        let t = Table::from_csv_bytes(b"a,y\n1,cat\n", "y", "d.csv").unwrap();
        assert_eq!(
            t.values().unwrap_err().to_string(),
            "d.csv:2: the target `y` holds `cat`, not a number"
        );
        assert!(
            t.classes_as(&["dog".into()])
                .unwrap_err()
                .to_string()
                .contains("class `cat`")
        );
    }
}
