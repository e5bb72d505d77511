use crate::InputError;

/// `limit` (1..=1000, default 100) and `offset` (>= 0, default 0) of every list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    pub fn parse(limit: Option<i64>, offset: Option<i64>) -> Result<Self, InputError> {
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(n) if (1..=i64::from(Self::MAX_LIMIT)).contains(&n) => n as u32,
            Some(_) => {
                return Err(InputError::new(
                    "limit",
                    "limit must be an integer from 1 to 1000",
                ));
            }
        };
        let offset = match offset {
            None => 0,
            Some(n) if n >= 0 => n as u64,
            Some(_) => return Err(InputError::new("offset", "offset must be an integer >= 0")),
        };
        Ok(Self { limit, offset })
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn absent_values_take_the_defaults() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page {
                limit: 100,
                offset: 0
            }
        );
    }

    proptest! {
        #[test]
        fn limits_inside_the_range_are_kept(limit in 1i64..=1000, offset in 0i64..i64::MAX) {
            let page = Page::parse(Some(limit), Some(offset)).unwrap();
            prop_assert_eq!((i64::from(page.limit), page.offset as i64), (limit, offset));
        }

        #[test]
        fn limits_outside_the_range_name_the_field(limit in prop_oneof![i64::MIN..1, 1001i64..i64::MAX]) {
            prop_assert_eq!(Page::parse(Some(limit), None).unwrap_err().field, "limit");
        }

        #[test]
        fn negative_offsets_name_the_field(offset in i64::MIN..0) {
            prop_assert_eq!(Page::parse(None, Some(offset)).unwrap_err().field, "offset");
        }
    }
}
